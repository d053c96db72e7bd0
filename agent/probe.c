/* Capability probe. Everything under /proc and /sys is read relative to a root prefix so the
 * tests can point it at fixture trees. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "probe.h"

#define SMALL_FILE_MAX 512
#define CPUINFO_MAX (1024 * 1024)
#define PROBE_ITEMS_MAX 64

struct pci_class {
	unsigned cls;   /* top byte of the PCI class code */
	const char *type;
};

/* PCI classes reported as peripherals; network controllers appear as interfaces instead. */
static const struct pci_class pci_classes[] = {
	{ 0x03, "gpu" }, { 0x04, "multimedia" }, { 0x0b, "processor" },
	{ 0x0d, "wireless" }, { 0x12, "accelerator" },
};

static const struct {
	unsigned id;
	const char *name;
} pci_vendors[] = {
	{ 0x10de, "NVIDIA" }, { 0x1002, "AMD" }, { 0x8086, "Intel" }, { 0x1a03, "ASPEED" },
	{ 0x15b3, "Mellanox" }, { 0x14e4, "Broadcom" }, { 0x10ec, "Realtek" },
	{ 0x1af4, "Red Hat (virtio)" }, { 0x1234, "QEMU" }, { 0x1ae0, "Google" },
	{ 0x168c, "Qualcomm Atheros" }, { 0x17cb, "Qualcomm" }, { 0x13b5, "ARM" },
};

/* Placeholder strings firmware leaves in DMI fields; treated as absent. */
static const char *const dmi_junk[] = {
	"To be filled by O.E.M.", "Default string", "System Serial Number", "Not Specified",
	"None", "System manufacturer", "System Product Name", "0123456789", "",
};

/* snprintf into a path buffer; -1 when it did not fit (the caller then reads nothing). */
static int pfmt(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int pfmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		buf[0] = '\0';
		return -1;
	}
	return 0;
}

static const char *root_of(const struct agent_probe_options *o)
{
	return o->root != NULL && o->root[0] != '\0' && strcmp(o->root, "/") != 0 ? o->root : "";
}

/* Reads a small file below the root, trims white space and NULs, replaces anything that is
 * not printable ASCII. 0 or -1. */
static int read_small(const char *root, const char *path, char *buf, size_t size)
{
	char full[PATH_MAX];
	ssize_t n;
	int fd;

	if (pfmt(full, sizeof(full), "%s%s", root, path) != 0)
		return -1;
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\0')
			buf[i] = ' ';
		else if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
			buf[i] = isspace((unsigned char)buf[i]) ? ' ' : '?';
	}
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	{
		size_t lead = strspn(buf, " ");

		memmove(buf, buf + lead, (size_t)n - lead + 1);
	}
	return 0;
}

static int exists(const char *root, const char *path)
{
	char full[PATH_MAX];
	struct stat st;

	if (pfmt(full, sizeof(full), "%s%s", root, path) != 0)
		return 0;
	return stat(full, &st) == 0;
}

/* round() without libm (one fewer shared library mapped in every run): halves away from
 * zero, exact for the magnitudes probed here (|v| < 2^52). */
static double round0(double v)
{
	double t = (double)(long long)v;

	if (v - t >= 0.5)
		t += 1.0;
	else if (v - t <= -0.5)
		t -= 1.0;
	return t;
}

static double round2(double v)
{
	return round0(v * 100.0) / 100.0;
}

/* "8.24 GB": at most two decimals, trailing zeros dropped (no binary float noise on the
 * wire). */
static json_t *quantity(double v, const char *unit)
{
	char buf[64];
	size_t n;

	snprintf(buf, sizeof(buf), "%.2f", v);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	snprintf(buf + n, sizeof(buf) - n, " %s", unit);
	return json_string(buf);
}

static int is_junk(const char *s)
{
	for (size_t i = 0; i < sizeof(dmi_junk) / sizeof(dmi_junk[0]); i++)
		if (strcasecmp(s, dmi_junk[i]) == 0)
			return 1;
	return 0;
}

/* A DMI or device-tree string, or NULL. Newly allocated. */
static char *identity_value(const char *root, const char *dmi, const char *dt)
{
	char buf[SMALL_FILE_MAX];

	if (dmi != NULL && read_small(root, dmi, buf, sizeof(buf)) == 0 && !is_junk(buf))
		return strdup(buf);
	if (dt != NULL && read_small(root, dt, buf, sizeof(buf)) == 0 && !is_junk(buf))
		return strdup(buf);
	return NULL;
}

static char *pick(const char *override, char *probed, const char *fallback)
{
	if (override != NULL && override[0] != '\0') {
		free(probed);
		return strdup(override);
	}
	if (probed != NULL)
		return probed;
	return strdup(fallback);
}

int agent_probe_identity(const struct agent_probe_options *o, char **vendor,
			 char **model_number, char **serial_number, struct margo_error *err)
{
	const char *root = root_of(o);
	char host[256] = "unknown";

	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
		strcpy(host, "unknown");
	*vendor = pick(o->vendor, identity_value(root, "/sys/class/dmi/id/sys_vendor", NULL),
		       "unknown");
	*model_number = pick(o->model_number,
			     identity_value(root, "/sys/class/dmi/id/product_name",
					    "/proc/device-tree/model"),
			     "unknown");
	*serial_number = pick(o->serial_number,
			      identity_value(root, "/sys/class/dmi/id/product_serial",
					     "/proc/device-tree/serial-number"),
			      host);
	if (*vendor == NULL || *model_number == NULL || *serial_number == NULL) {
		free(*vendor);
		free(*model_number);
		free(*serial_number);
		*vendor = *model_number = *serial_number = NULL;
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	return MARGO_OK;
}

/* cores and frequency (GHz, 0 when unknown) from /proc/cpuinfo and cpufreq. */
static void probe_cpu(const char *root, long *cores, double *ghz)
{
	char path[PATH_MAX], buf[SMALL_FILE_MAX], *line = NULL;
	size_t cap = 0;
	double mhz_max = 0;
	FILE *f;

	*cores = 0;
	*ghz = 0;
	pfmt(path, sizeof(path), "%s/proc/cpuinfo", root);
	f = fopen(path, "re");
	if (f != NULL) {
		while (getline(&line, &cap, f) > 0) {
			double mhz;
			char *colon = strchr(line, ':');

			if (strncmp(line, "processor", 9) == 0 && colon != NULL &&
			    isdigit((unsigned char)colon[strspn(colon + 1, " \t") + 1]))
				(*cores)++;
			else if (strncmp(line, "cpu MHz", 7) == 0 && colon != NULL &&
				 sscanf(colon + 1, "%lf", &mhz) == 1 && mhz > mhz_max)
				mhz_max = mhz;
		}
		free(line);
		fclose(f);
	}
	if (*cores == 0 && root[0] == '\0')
		*cores = sysconf(_SC_NPROCESSORS_CONF);
	if (*cores <= 0)
		*cores = 1;
	/* The maximum frequency is stable; "cpu MHz" moves with frequency scaling. */
	if (read_small(root, "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", buf,
		       sizeof(buf)) == 0 && atol(buf) > 0)
		*ghz = round2((double)atol(buf) / 1e6);
	else if (mhz_max > 0)
		*ghz = round0(mhz_max / 100.0) / 10.0;
}

static double probe_memory_gb(const char *root)
{
	char path[PATH_MAX], line[256];
	double gb = 0;
	FILE *f;

	pfmt(path, sizeof(path), "%s/proc/meminfo", root);
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long kb;

		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) {
			gb = round2((double)kb * 1024.0 / 1e9);
			break;
		}
	}
	fclose(f);
	return gb;
}

static double probe_storage_gb(const char *path)
{
	struct statvfs sv;

	if (statvfs(path != NULL ? path : "/", &sv) != 0)
		return 0;
	return round2((double)sv.f_blocks * (double)sv.f_frsize / 1e9);
}

static int dir_filter(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static const char *pci_vendor_name(unsigned id)
{
	for (size_t i = 0; i < sizeof(pci_vendors) / sizeof(pci_vendors[0]); i++)
		if (pci_vendors[i].id == id)
			return pci_vendors[i].name;
	return NULL;
}

/* DRIVER= from a uevent file, else the basename of the driver link. */
/* "vvvv:dddd" from the PCI vendor and device ids as sysfs gives them ("0x" prefixed). */
static void pci_model(char *out, size_t size, const char *vendor, const char *device)
{
	pfmt(out, size, "%s:%s", vendor + (strncmp(vendor, "0x", 2) == 0 ? 2 : 0),
	     device + (strncmp(device, "0x", 2) == 0 ? 2 : 0));
}

static int read_driver(const char *root, const char *devdir, char *out, size_t size)
{
	char path[PATH_MAX], buf[2048], link[PATH_MAX];
	char *p, *slash;
	ssize_t n;

	pfmt(path, sizeof(path), "%s/uevent", devdir);
	if (read_small(root, path, buf, sizeof(buf)) == 0 && (p = strstr(buf, "DRIVER=")) != NULL) {
		p += 7;
		n = (ssize_t)strcspn(p, " ");
		if (n > 0 && (size_t)n < size) {
			memcpy(out, p, (size_t)n);
			out[n] = '\0';
			return 0;
		}
	}
	pfmt(path, sizeof(path), "%s%s/driver", root, devdir);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return -1;
	link[n] = '\0';
	slash = strrchr(link, '/');
	pfmt(out, size, "%s", slash != NULL ? slash + 1 : link);
	return 0;
}

static json_t *probe_interfaces(const char *root)
{
	char path[PATH_MAX], buf[SMALL_FILE_MAX], driver[128];
	struct dirent **names = NULL;
	json_t *arr = json_array();
	int n;

	if (arr == NULL)
		return NULL;
	pfmt(path, sizeof(path), "%s/sys/class/net", root);
	n = scandir(path, &names, dir_filter, alphasort);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		char base[PATH_MAX], model[64] = "";
		const char *type = "other";
		json_t *props, *item;
		long t = -1;

		if (strcmp(name, "lo") == 0 || json_array_size(arr) >= PROBE_ITEMS_MAX)
			goto next;
		pfmt(base, sizeof(base), "/sys/class/net/%s", name);
		pfmt(path, sizeof(path), "%s/type", base);
		if (read_small(root, path, buf, sizeof(buf)) == 0)
			t = atol(buf);
		pfmt(path, sizeof(path), "%s/device", base);
		/* loopback and virtual interfaces (bridges, veth, tun) come and go: skip them */
		if (t == 772 || !exists(root, path))
			goto next;
		pfmt(path, sizeof(path), "%s/wireless", base);
		if (exists(root, path))
			type = "wifi";
		else {
			pfmt(path, sizeof(path), "%s/phy80211", base);
			if (exists(root, path))
				type = "wifi";
			else if (t == 1)
				type = "ethernet";
			else if (t == 32)
				type = "infiniband";
			else if (t == 280)
				type = "can";
		}
		props = json_object();
		if (props == NULL)
			goto next;
		pfmt(path, sizeof(path), "%s/speed", base);
		if (read_small(root, path, buf, sizeof(buf)) == 0 && atol(buf) > 0)
			json_object_set_new(props, "speedMbps", json_integer(atol(buf)));
		pfmt(path, sizeof(path), "%s/address", base);
		if (read_small(root, path, buf, sizeof(buf)) == 0 && buf[0] != '\0')
			json_object_set_new(props, "macAddress", json_string(buf));
		pfmt(path, sizeof(path), "%s/device", base);
		if (read_driver(root, path, driver, sizeof(driver)) == 0) {
			json_object_set_new(props, "driver", json_string(driver));
			pfmt(model, sizeof(model), "%s", driver);
		}
		{
			char v[32], d[32];

			pfmt(path, sizeof(path), "%s/device/vendor", base);
			if (read_small(root, path, v, sizeof(v)) == 0) {
				pfmt(path, sizeof(path), "%s/device/device", base);
				if (read_small(root, path, d, sizeof(d)) == 0) {
					const char *vn = pci_vendor_name((unsigned)strtoul(v, NULL, 16));

					pci_model(model, sizeof(model), v, d);
					if (vn != NULL)
						json_object_set_new(props, "vendor", json_string(vn));
				}
			}
		}
		item = json_pack("{s:s, s:s, s:s, s:o}", "name", name, "type", type, "modelNumber",
				 model[0] != '\0' ? model : "unknown", "properties", props);
		if (item != NULL)
			json_array_append_new(arr, item);
next:
		free(names[i]);
	}
	free(names);
	return arr;
}

static json_t *probe_peripherals(const char *root)
{
	char path[PATH_MAX], buf[SMALL_FILE_MAX], driver[128];
	struct dirent **names = NULL;
	json_t *arr = json_array();
	int n;

	if (arr == NULL)
		return NULL;
	pfmt(path, sizeof(path), "%s/sys/bus/pci/devices", root);
	n = scandir(path, &names, dir_filter, alphasort);
	for (int i = 0; i < n; i++) {
		const char *addr = names[i]->d_name;
		char base[PATH_MAX], v[32] = "", d[32] = "", model[64];
		const char *type = NULL, *vn;
		unsigned long cls;
		json_t *props, *item;

		if (json_array_size(arr) >= PROBE_ITEMS_MAX)
			goto next;
		pfmt(base, sizeof(base), "/sys/bus/pci/devices/%s", addr);
		pfmt(path, sizeof(path), "%s/class", base);
		if (read_small(root, path, buf, sizeof(buf)) != 0)
			goto next;
		cls = strtoul(buf, NULL, 16);
		for (size_t k = 0; k < sizeof(pci_classes) / sizeof(pci_classes[0]); k++)
			if (pci_classes[k].cls == (cls >> 16))
				type = pci_classes[k].type;
		if (type == NULL)
			goto next;
		pfmt(path, sizeof(path), "%s/vendor", base);
		read_small(root, path, v, sizeof(v));
		pfmt(path, sizeof(path), "%s/device", base);
		read_small(root, path, d, sizeof(d));
		pci_model(model, sizeof(model), v, d);
		props = json_pack("{s:s, s:s, s:s}", "bus", "pci", "address", addr, "class", buf);
		if (props == NULL)
			goto next;
		vn = pci_vendor_name((unsigned)strtoul(v, NULL, 16));
		if (vn != NULL)
			json_object_set_new(props, "vendor", json_string(vn));
		if (read_driver(root, base, driver, sizeof(driver)) == 0)
			json_object_set_new(props, "driver", json_string(driver));
		item = json_pack("{s:s, s:s, s:s, s:o}", "name", addr, "type", type, "modelNumber",
				 model, "properties", props);
		if (item != NULL)
			json_array_append_new(arr, item);
next:
		free(names[i]);
	}
	free(names);
	return arr;
}

void agent_probe_options_from_config(struct agent_probe_options *o, const struct agent_config *c)
{
	memset(o, 0, sizeof(*o));
	o->root = c->probe_root != NULL ? c->probe_root : getenv("MARGO_AGENT_PROBE_ROOT");
	o->storage_path = c->state_dir;
	o->vendor = c->vendor;
	o->model_number = c->model_number;
	o->serial_number = c->serial_number;
	o->roles = (const char *const *)c->roles;
	o->nroles = c->nroles;
}

void agent_probe_options_from_state(struct agent_probe_options *o, const char *vendor,
				    const char *model_number, const char *serial_number)
{
	if (vendor != NULL)
		o->vendor = vendor;
	if (model_number != NULL)
		o->model_number = model_number;
	if (serial_number != NULL)
		o->serial_number = serial_number;
}

int agent_probe_capabilities(const struct agent_probe_options *o, json_t **out,
			     struct margo_error *err)
{
	const char *root = root_of(o);
	char *vendor = NULL, *model = NULL, *serial = NULL;
	json_t *doc = NULL, *roles = NULL, *cpu, *ifaces = NULL, *periph = NULL;
	struct utsname un;
	long cores;
	double ghz, storage;
	int rc;

	rc = agent_probe_identity(o, &vendor, &model, &serial, err);
	if (rc != 0)
		return rc;
	if (uname(&un) != 0)
		strcpy(un.machine, "unknown");
	probe_cpu(root, &cores, &ghz);
	storage = probe_storage_gb(o->storage_path);
	if (storage == 0 && o->storage_path != NULL)
		storage = probe_storage_gb("/");
	cpu = json_pack("{s:s, s:I}", "architecture", un.machine, "cores", (json_int_t)cores);
	if (cpu != NULL && ghz > 0)
		json_object_set_new(cpu, "frequency", quantity(ghz, "GHz"));
	roles = json_array();
	if (roles != NULL) {
		for (size_t i = 0; i < o->nroles; i++)
			json_array_append_new(roles, json_string(o->roles[i]));
		if (o->nroles == 0)
			json_array_append_new(roles, json_string("standalone device"));
	}
	ifaces = probe_interfaces(root);
	periph = probe_peripherals(root);
	if (cpu == NULL || roles == NULL || ifaces == NULL || periph == NULL) {
		json_decref(cpu);
		json_decref(roles);
		json_decref(ifaces);
		json_decref(periph);
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	doc = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:o, s:{s:o, s:o, s:[o]}, s:o, s:o}}",
			"apiVersion", "device.margo/v1", "kind", "DeviceCapabilities",
			"properties", "id", o->device_id != NULL ? o->device_id : serial,
			"vendor", vendor, "modelNumber", model, "serialNumber", serial,
			"roles", roles, "resources", "memory", quantity(probe_memory_gb(root), "GB"),
			"storage", quantity(storage, "GB"), "cpus", cpu, "interfaces", ifaces,
			"peripherals", periph);
	if (doc == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "cannot build the capabilities document");
		goto out;
	}
	*out = doc;
out:
	free(vendor);
	free(model);
	free(serial);
	return rc;
}

int agent_probe_hash(json_t *doc, char out[MARGO_TOKEN_HASH_LEN])
{
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);

	if (text == NULL)
		return MARGO_ENOMEM;
	margo_token_hash(text, out);
	free(text);
	return MARGO_OK;
}
