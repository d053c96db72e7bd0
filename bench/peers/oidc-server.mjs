// OAuth 2.0 peer for bench/peers/oidc-provider.sh: oidc-provider (npm) issuing access tokens
// with the client_credentials grant to one confidential client (client_secret_post), behind
// node's own https server (TLS 1.3, the ECDSA P-256 key and certificate of the benchmark), on
// 127.0.0.1. PEER_WORKERS processes (node cluster) share the port, like wfmd's worker threads.
// Env: PEER_PORT, PEER_KEY, PEER_CERT, PEER_CLIENT_ID, PEER_SECRET_FILE (the client secret,
// read from a file so it is not in argv), PEER_WORKERS (default 1).
import cluster from 'node:cluster';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import Provider from 'oidc-provider';

const env = process.env;
const workers = Number(env.PEER_WORKERS || 1);

if (cluster.isPrimary && workers > 1) {
	for (let i = 0; i < workers; i++) cluster.fork();
	let stopping = false;
	cluster.on('exit', (w, code) => {
		if (!stopping) {
			console.error(`worker ${w.process.pid} exited: ${code}`);
			process.exit(1);
		}
		if (Object.keys(cluster.workers).length === 0) process.exit(0);
	});
	process.on('SIGTERM', () => {
		stopping = true;
		for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
	});
} else {
	const keyPem = readFileSync(env.PEER_KEY);
	const jwk = crypto.createPrivateKey(keyPem).export({ format: 'jwk' });
	const issuer = `https://127.0.0.1:${env.PEER_PORT}`;
	const provider = new Provider(issuer, {
		clients: [{
			client_id: env.PEER_CLIENT_ID,
			client_secret: readFileSync(env.PEER_SECRET_FILE, 'utf8').trim(),
			grant_types: ['client_credentials'],
			response_types: [],
			redirect_uris: [],
			token_endpoint_auth_method: 'client_secret_post',
			id_token_signed_response_alg: 'ES256',
		}],
		features: {
			clientCredentials: { enabled: true },
			devInteractions: { enabled: false },
		},
		// the access token lifetime, as wfmd's default --access-token-ttl
		ttl: { ClientCredentials: 3600 },
		jwks: { keys: [{ ...jwk, kid: 'bench', alg: 'ES256', use: 'sig' }] },
		cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
	});
	const server = https.createServer({
		key: keyPem,
		cert: readFileSync(env.PEER_CERT),
		minVersion: 'TLSv1.3',
	}, provider.callback());
	server.keepAliveTimeout = 120000;
	server.listen(Number(env.PEER_PORT), '127.0.0.1');
	process.on('SIGTERM', () => process.exit(0));
}
