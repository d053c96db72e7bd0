// The web console in a real browser: Debian's chromium, headless, driven by playwright-core,
// against a real wfmd (and a real margo-agent) that tests/e2e/test_console_browser.sh started.
// Prints TAP-like lines ("ok N - ...", "not ok N - ..."); exits 1 on any failure.
//
// Environment (set by the e2e script): WFM_URL, WFM_SPKI (base64 SHA-256 of the server key's
// SubjectPublicKeyInfo, the only certificate chromium is told to accept), ADMIN_TOKEN_FILE,
// PENDING_ID, AGENT_CMD (a script that onboards and runs margo-agent with the token file
// given), T (temp dir), SHOTS (directory for screenshots, optional), CHROMIUM.
import { chromium } from 'playwright-core';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const env = process.env;
const URL0 = env.WFM_URL;
let n = 0, failed = 0;
const ok = (cond, msg) => {
  n++;
  if (cond) console.log(`ok ${n} - ${msg}`);
  else { failed++; console.log(`not ok ${n} - ${msg}`); }
  return cond;
};
const step = (s) => console.log(`\n## ${s}`);
const problems = [];
const adminToken = readFileSync(env.ADMIN_TOKEN_FILE, 'utf8').trim();

async function shot(page, name) {
  if (!env.SHOTS) return;
  mkdirSync(env.SHOTS, { recursive: true });
  await page.screenshot({ path: join(env.SHOTS, name + '.png'), fullPage: false });
}

// The text of a locator, '' when it is not there.
async function text(loc) {
  try { return (await loc.textContent({ timeout: 2000 })) || ''; } catch (e) { return ''; }
}

async function waitFor(fn, secs, what) {
  const end = Date.now() + secs * 1000;
  for (;;) {
    try { if (await fn()) return true; } catch (e) { /* retry */ }
    if (Date.now() > end) { console.log(`# gave up waiting for ${what}`); return false; }
    await new Promise(r => setTimeout(r, 500));
  }
}

async function login(page, token) {
  await page.goto(URL0 + '/ui/');
  await page.getByLabel('Operator token').fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
}

// fetch from inside the page: same origin, the session cookie, the CSRF token.
async function pageApi(page, method, path, body) {
  return page.evaluate(async ([method, path, body]) => {
    const s = await (await fetch('/admin/v1/session')).json();
    const r = await fetch(path, { method, headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrfToken },
      body: body ? JSON.stringify(body) : undefined });
    return { status: r.status, body: await r.json().catch(() => null) };
  }, [method, path, body]);
}

const GOOD = (id) => `apiVersion: application.margo.org/v1alpha1
kind: ApplicationDeployment
metadata:
  annotations:
    id: ${id}
    applicationId: com.example.web
  name: web
  namespace: margo
spec:
  deploymentProfile:
    type: compose
    components:
      - name: app
        properties:
          packageLocation: https://example.com/web-1.0.tar.gz
          keyLocation: https://example.com/web.asc
`;
// components[0] lacks its name: the 422 names /spec/deploymentProfile/components/0/name.
const BAD = GOOD('web-1').replace('      - name: app\n        properties:', '      - properties:');

const browser = await chromium.launchPersistentContext(join(env.T, 'chromium-profile'), {
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--ignore-certificate-errors-spki-list=${env.WFM_SPKI}`],
  viewport: { width: 1366, height: 820 },
  permissions: ['clipboard-read', 'clipboard-write'],
});
let agentStarted = false;
try {
  const page = browser.pages()[0] || await browser.newPage();
  page.on('console', m => { if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(m.text()); });
  page.on('pageerror', e => problems.push('page error: ' + e.message));

  step('log in: a wrong token is refused, the right one gives a session cookie');
  await page.goto(URL0 + '/ui/');
  await page.getByLabel('Operator token').waitFor();
  await shot(page, 'login');
  await login(page, 'wfmadm_wrong-token');
  ok(await waitFor(async () => /wrong operator token/.test(await text(page.locator('#token-err'))), 10, 'refusal'),
    'a wrong token: the login form says so');
  ok(await page.locator('#token').getAttribute('aria-invalid') === 'true', 'the token field is marked invalid');
  ok((await browser.cookies()).length === 0, 'no cookie after a refused login');
  await login(page, adminToken);
  ok(await waitFor(async () => (await text(page.locator('#who'))) === 'admin', 10, 'the shell'), 'logged in as admin');
  const cookie = (await browser.cookies()).find(c => c.name === '__Host-margo_session');
  ok(cookie && cookie.httpOnly && cookie.secure && cookie.sameSite === 'Strict' && cookie.path === '/',
    'session cookie: HttpOnly, Secure, SameSite=Strict, Path=/');
  ok(await page.evaluate(() => document.cookie) === '', 'page scripts cannot read the cookie');
  ok(await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage)).then(s => !s.includes('wfmadm_')),
    'the operator token is not kept in web storage');

  step('overview');
  ok(await waitFor(async () => (await page.locator('.card').count()) >= 7, 10, 'cards'), 'overview shows its cards');
  ok(/1\s*pending approval/.test(await text(page.locator('ul.cards').first())), 'overview counts the pending device');

  step('approve the pending device');
  await page.getByRole('link', { name: 'Pending approvals' }).click();
  const box = page.getByRole('checkbox', { name: 'Select ' + env.PENDING_ID });
  ok(await waitFor(() => box.isVisible(), 10, 'the pending row'), 'the pending device is listed');
  await box.check();
  await shot(page, 'approvals');
  await page.getByRole('button', { name: 'Approve selected' }).click();
  ok(await waitFor(async () => /Approved 1 device\./.test(await text(page.locator('#notice'))), 10, 'notice'),
    'the console says it approved 1 device');
  ok(await waitFor(async () => /No device is waiting/.test(await text(page.locator('tbody'))), 10, 'empty list'),
    'the list is empty afterwards');
  const approved = await pageApi(page, 'GET', '/admin/v1/devices/' + env.PENDING_ID);
  ok(approved.body && approved.body.state === 'active', 'the WFM has the device active');

  step('create an enrollment token: shown once, with a copy button');
  await page.getByRole('link', { name: 'Enrollment tokens' }).click();
  await page.getByLabel('Description').fill('line 3 gateway');
  await page.getByLabel('Approve devices that use it without asking an operator').check();
  await page.getByRole('button', { name: 'Create token' }).click();
  const tokenField = page.locator('#new-token');
  ok(await waitFor(() => tokenField.isVisible(), 10, 'the new token'), 'the new token is shown');
  const token = await tokenField.inputValue();
  ok(/^wfmet_[A-Za-z0-9_-]{40,}$/.test(token), 'it is an enrollment token');
  await page.getByRole('button', { name: 'Copy' }).click();
  ok(await waitFor(async () => (await page.evaluate(() => navigator.clipboard.readText())) === token, 5, 'clipboard'),
    'Copy puts it on the clipboard');
  ok(/line 3 gateway/.test(await text(page.locator('table'))), 'the token is listed');
  await shot(page, 'tokens');
  await page.reload();
  ok(await waitFor(async () => /line 3 gateway/.test(await text(page.locator('table'))), 10, 'list'),
    'after a reload the list is there');
  ok(!(await page.content()).includes(token), 'and the token is not shown again');

  step('a real margo-agent onboards with that token and runs');
  writeFileSync(join(env.T, 'console.token'), token, { mode: 0o600 });
  execFileSync(env.AGENT_CMD, [join(env.T, 'console.token')], { stdio: 'inherit' });
  agentStarted = true;
  const agentId = readFileSync(join(env.T, 'agent.id'), 'utf8').trim();
  ok(/^[0-9a-f-]{36}$/.test(agentId), 'the agent onboarded: ' + agentId);

  step('devices: search and filter');
  await page.getByRole('link', { name: 'Devices' }).click();
  await page.getByLabel('Id prefix').fill(agentId.slice(0, 8));
  await page.getByRole('button', { name: 'Filter' }).click();
  ok(await waitFor(async () => (await page.locator('tbody tr').count()) === 1 &&
    (await text(page.locator('tbody'))).includes(agentId.slice(0, 8)), 10, 'one row'), 'the id prefix finds the agent\'s device');
  await page.goto(URL0 + '/ui/#/devices?serial=SN-gw');
  ok(await waitFor(async () => (await page.locator('tbody tr').count()) === 3, 10, 'three rows'), 'serial prefix SN-gw: three devices');
  step('devices: server-side pages (2 a page here)');
  await page.goto(URL0 + '/ui/#/devices?limit=2');
  const ids = async () => (await page.locator('tbody tr td:nth-child(1) a').allTextContents()).join(' ');
  ok(await waitFor(async () => (await page.locator('tbody tr').count()) === 2, 10, 'page 1'), 'page 1: two devices');
  const p1 = await ids();
  await page.getByRole('button', { name: 'Next →' }).click();
  ok(await waitFor(async () => /Page 2/.test(await text(page.locator('.pager'))) && (await ids()) !== p1, 10, 'page 2'), 'Next: page 2, other devices');
  const p2 = await ids();
  await page.getByRole('button', { name: 'Next →' }).click();
  ok(await waitFor(async () => /Page 3/.test(await text(page.locator('.pager'))) && (await page.locator('tbody tr').count()) === 1, 10, 'page 3'),
    'page 3: the fifth device');
  ok(await page.getByRole('button', { name: 'Next →' }).isDisabled(), 'no page after the last');
  await page.getByRole('button', { name: '← Previous' }).click();
  ok(await waitFor(async () => (await ids()) === p2, 10, 'back'), 'Previous: page 2 again');
  await page.goto(URL0 + '/ui/#/devices');
  await page.getByLabel('State', { exact: true }).selectOption('pending');
  await page.getByRole('button', { name: 'Filter' }).click();
  ok(await waitFor(async () => /No device matches/.test(await text(page.locator('tbody'))), 10, 'no pending'),
    'state=pending: none left');
  await page.goto(URL0 + '/ui/#/devices');
  ok(await waitFor(async () => (await page.locator('tbody tr').count()) === 5, 10, 'five rows'), 'five devices listed');
  await shot(page, 'devices');

  step('deploy: a 422 is shown at the field, then a good document is committed');
  await page.goto(URL0 + '/ui/#/deploy?device=' + agentId);
  await page.getByLabel('Deployment id').fill('web-1');
  await page.getByLabel('ApplicationDeployment (YAML)').fill(BAD);
  await page.getByRole('button', { name: 'Deploy' }).click();
  const yamlErr = page.locator('#' + (await page.getByLabel('ApplicationDeployment (YAML)').getAttribute('id')) + '-err');
  ok(await waitFor(async () => /components\/0\/name/.test(await text(yamlErr)), 10, 'field error'),
    'the 422 names /spec/deploymentProfile/components/0/name at the document: ' + await text(yamlErr));
  ok(/line \d+/.test(await text(yamlErr)), 'with the line in the pasted document');
  ok(await page.getByLabel('ApplicationDeployment (YAML)').getAttribute('aria-invalid') === 'true', 'the field is marked invalid');
  await shot(page, 'deploy');
  await page.getByLabel('ApplicationDeployment (YAML)').fill(GOOD('web-1'));
  await page.getByRole('button', { name: 'Deploy' }).click();
  ok(await waitFor(async () => /Committed web-1/.test(await text(page.locator('#deploy-result'))), 15, 'committed'),
    'the deployment is committed');

  step('device detail: the deployment reaches Installed after margo-agent applies it');
  await page.getByRole('link', { name: 'Watch it on the device page' }).click();
  const row = page.locator('tr[data-deployment="web-1"]');
  const installed = await waitFor(async () => {
    await page.reload();
    return /Installed/.test(await text(row));
  }, 45, 'Installed');
  ok(installed, 'the device page shows web-1 Installed');
  await row.getByRole('button', { name: 'History' }).click();
  ok(await waitFor(async () => /Installing/.test(await text(page.locator('table.history'))), 10, 'history'),
    'its status history shows Installing before Installed');
  ok(/app/.test(await text(page.locator('table.history ul.comps').first())), 'with the component');
  ok(/Capabilities/.test(await text(page.locator('main'))) && /Last seen/.test(await text(page.locator('main'))),
    'identity, capabilities and last seen are shown');
  await shot(page, 'device');

  step('rollouts: waves, progress, pause and resume');
  const lab = await pageApi(page, 'PATCH', `/admin/v1/devices/${agentId}/labels`, { ring: 'canary' });
  ok(lab.status === 200, 'label the agent\'s device ring=canary (200)');
  const ro = await pageApi(page, 'POST', '/admin/v1/rollouts', { selector: 'ring=canary',
    deployment: GOOD('web-2').replace('name: web\n', 'name: web2\n'), deploymentId: 'web-2' });
  ok(ro.status === 201, 'a rollout to ring=canary (201)');
  await page.goto(URL0 + '/ui/#/rollout/' + ro.body.id);
  ok(await waitFor(() => page.locator('table.waves progress').first().isVisible(), 10, 'waves'), 'the rollout page shows its waves');
  ok((await page.locator('table.waves tbody tr').count()) === 1, 'one wave');
  await page.getByRole('button', { name: 'Pause' }).click();
  ok(await waitFor(async () => /paused/.test(await text(page.locator('h1'))), 10, 'paused'), 'Pause: the rollout is paused');
  await page.getByRole('button', { name: 'Resume' }).click();
  ok(await waitFor(async () => !/paused/.test(await text(page.locator('h1'))), 10, 'resumed'), 'Resume: it runs again');
  await waitFor(async () => { await page.reload(); return (await text(page.locator('table.waves tbody tr').first())).includes('100 %'); }, 20, 'canary installed');
  await shot(page, 'rollout');
  await page.goto(URL0 + '/ui/#/rollouts');
  ok(await waitFor(async () => (await text(page.locator('tbody'))).includes('web-2'), 10, 'list'), 'the rollout is listed');

  await page.goto(URL0 + '/ui/#/overview');
  await page.locator('.card').first().waitFor();
  await shot(page, 'overview');

  step('audit log: the changes made from the console, by whom');
  await page.goto(URL0 + '/ui/#/audit');
  const audit = page.locator('table[aria-label="Audit log"] tbody');
  ok(await waitFor(async () => (await audit.locator('tr').count()) >= 4, 10, 'audit rows'), 'the audit log lists entries');
  const auditText = await text(audit);
  ok(auditText.includes(`POST /admin/v1/devices/${env.PENDING_ID}/approve`), 'the approval is there');
  ok(auditText.includes('POST /admin/v1/enrollment-tokens'), 'the token creation is there');
  ok(auditText.includes(`PUT /admin/v1/devices/${agentId}/deployments/web-1`), 'the deployment is there');
  ok(/admin/.test(auditText) && !auditText.includes('wfmet_') && !auditText.includes(token), 'by operator admin, with no secret');
  await shot(page, 'audit');
  await page.getByLabel('Device id').fill(agentId);
  await page.getByRole('button', { name: 'Filter' }).click();
  ok(await waitFor(async () => {
    const rows = await audit.locator('tr').allTextContents();
    return rows.length >= 1 && rows.every(r => r.includes(agentId.slice(0, 8)));
  }, 10, 'filtered'), 'filtered by device: only that device\'s entries');

  step('keyboard: the login form and the navigation work without a mouse');
  const focusable = await page.evaluate(() => [...document.querySelectorAll('nav a, button, input, select, textarea')]
    .every(el => el.tabIndex >= 0));
  ok(focusable, 'every control is in the tab order');
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter(el => !el.labels?.length && !el.getAttribute('aria-label')).length);
  ok(unlabelled === 0, 'every form control has a label');

  step('log out');
  await page.getByRole('button', { name: 'Log out' }).click();
  ok(await waitFor(() => page.getByLabel('Operator token').isVisible(), 10, 'login form'), 'back at the login form');
  const after = await page.evaluate(async () => (await fetch('/admin/v1/devices')).status);
  ok(after === 401, 'the admin API refuses the browser after logout');

  step('a viewer: reads, but deploying is refused with the role it needs');
  await login(page, readFileSync(env.VIEWER_TOKEN_FILE, 'utf8').trim());
  ok(await waitFor(async () => (await text(page.locator('#role'))) === 'viewer', 10, 'viewer'), 'logged in as a viewer');
  await page.goto(URL0 + '/ui/#/deploy?device=' + agentId);
  await page.getByLabel('Deployment id').fill('web-3');
  await page.getByLabel('ApplicationDeployment (YAML)').fill(GOOD('web-3'));
  await page.getByRole('button', { name: 'Deploy' }).click();
  ok(await waitFor(async () => /needs role operator/.test(await text(page.locator('#notice'))), 10, 'refusal'),
    'the page says the deployment needs role operator: ' + await text(page.locator('#notice')));
  const dev = await pageApi(page, 'GET', '/admin/v1/devices/' + agentId);
  ok(dev.status === 200 && !dev.body.deployments.some(d => d.deploymentId === 'web-3'), 'and nothing was deployed');
  await page.getByRole('button', { name: 'Log out' }).click();

  ok(problems.length === 0, 'no CSP violation or script error' + (problems.length ? ': ' + problems.join(' | ') : ''));
} catch (e) {
  ok(false, 'scenario aborted: ' + (e && e.stack || e));
} finally {
  await browser.close();
}
console.log(`\n${n - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
