/* The daemon's configuration: defaults in code, overridden by the keys of a GKeyFile. */
#include "config.h"

#include "ucv-config.h"

#include "model/ucv-error.h"
#include "model/ucv-pci-address.h"

#define UCV_DEFAULT_MAX_BODY_BYTES (4 * 1024 * 1024)

UcvConfig *
ucv_config_new(void)
{
	UcvConfig *self = g_new0(UcvConfig, 1);
	const gchar *no_registries[] = {NULL};
	const gchar *default_listen[] = {"127.0.0.1:8889", NULL};

	self->provider_id = g_strdup("example");
	self->public_url = g_strdup("https://provider.example.com");
	self->core_url = g_strdup("https://cloud.sdu.dk");
	self->refresh_token_file = g_strdup("/etc/ucloud-virt/refresh-token");
	self->public_key_file = g_strdup("/etc/ucloud-virt/ucloud-public-key");
	self->accounting = g_strdup("report-usage");
	self->accounting_interval = 60;
	self->reconcile_interval_s = 30;
	self->disk_min_gib = 1;
	self->disk_max_gib = 1024;
	self->disk_default_gib = 10;
	self->listen = g_strdupv((gchar **)default_listen);
	self->max_body_bytes = UCV_DEFAULT_MAX_BODY_BYTES;
	self->libvirt_uri = g_strdup("qemu:///system");
	self->domain_type = g_strdup("kvm");
	self->network = g_strdup("");
	self->state_dir = g_strdup("/var/lib/ucloud-virt");
	self->image_dir = g_strdup("/var/lib/ucloud-virt/images");
	self->save_dir = g_strdup("/var/lib/libvirt/qemu/save");
	self->session_timeout_s = 60;
	self->log_backlog_kib = 64;
	self->allowed_origins = g_new0(gchar *, 1);
	self->products_file = g_strdup("/etc/ucloud-virt/products.json");
	self->container_kernel = g_strdup("/usr/lib/ucloud-virt/container-host/vmlinuz");
	self->container_initrd = g_strdup("/usr/lib/ucloud-virt/container-host/initrd.img");
	self->insecure_registries = g_strdupv((gchar **)no_registries);
	self->drive_root = g_strdup("/var/lib/ucloud-virt/drives");
	self->web_domain = g_strdup("");
	self->image_cache_gib = 50;
	self->max_image_gib = 20;
	self->agent_timeout_s = 120;
	self->reserved_memory_mib = 1024;
	self->cpu_overcommit = 1.0;
	self->memory_overcommit = 1.0;
	self->gpu_devices = g_strdupv((gchar **)no_registries);
	return self;
}

void
ucv_config_free(UcvConfig *self)
{
	if (self == NULL)
		return;
	g_free(self->provider_id);
	g_free(self->public_url);
	g_free(self->core_url);
	g_free(self->refresh_token_file);
	g_free(self->public_key_file);
	g_free(self->accounting);
	g_strfreev(self->listen);
	g_free(self->libvirt_uri);
	g_free(self->domain_type);
	g_free(self->network);
	g_free(self->state_dir);
	g_free(self->image_dir);
	g_free(self->save_dir);
	g_strfreev(self->allowed_origins);
	g_free(self->products_file);
	g_free(self->container_kernel);
	g_free(self->container_initrd);
	g_strfreev(self->insecure_registries);
	g_free(self->drive_root);
	g_free(self->web_domain);
	g_strfreev(self->gpu_devices);
	g_free(self);
}

/* Replaces *value with the key's trimmed string when the key is present. */
static gboolean
load_string(GKeyFile *kf, const gchar *group, const gchar *key, gchar **value, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *str = g_key_file_get_string(kf, group, key, &error_local);

	if (str == NULL) {
		if (g_error_matches(error_local, G_KEY_FILE_ERROR,
				    G_KEY_FILE_ERROR_KEY_NOT_FOUND) ||
		    g_error_matches(error_local, G_KEY_FILE_ERROR,
				    G_KEY_FILE_ERROR_GROUP_NOT_FOUND))
			return TRUE;
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG, "[%s] %s: %s", group, key,
			    error_local->message);
		return FALSE;
	}
	g_free(*value);
	*value = g_strdup(g_strstrip(str));
	return TRUE;
}

/* A ';'-separated list; empty entries are dropped. */
static gboolean
load_list(GKeyFile *kf, const gchar *group, const gchar *key, gchar ***value, GError **error)
{
	g_autofree gchar *str = NULL;
	g_auto(GStrv) parts = NULL;
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();

	if (!g_key_file_has_key(kf, group, key, NULL))
		return TRUE;
	if (!load_string(kf, group, key, &str, error))
		return FALSE;
	parts = g_strsplit(str, ";", -1);
	for (guint i = 0; parts[i] != NULL; i++) {
		g_strstrip(parts[i]);
		if (parts[i][0] != '\0')
			g_strv_builder_add(builder, parts[i]);
	}
	g_strfreev(*value);
	*value = g_strv_builder_end(builder);
	return TRUE;
}

static gboolean
load_uint(GKeyFile *kf, const gchar *group, const gchar *key, guint64 min, guint64 max,
	  guint64 *value, GError **error)
{
	g_autofree gchar *str = NULL;
	guint64 parsed = 0;
	g_autoptr(GError) error_local = NULL;

	if (!load_string(kf, group, key, &str, error))
		return FALSE;
	if (str == NULL)
		return TRUE;
	if (!g_ascii_string_to_unsigned(str, 10, min, max, &parsed, &error_local)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG, "[%s] %s: %s", group, key,
			    error_local->message);
		return FALSE;
	}
	*value = parsed;
	return TRUE;
}

static gboolean
load_bool(GKeyFile *kf, const gchar *group, const gchar *key, gboolean *value, GError **error)
{
	g_autofree gchar *str = NULL;

	if (!load_string(kf, group, key, &str, error))
		return FALSE;
	if (str == NULL)
		return TRUE;
	if (g_ascii_strcasecmp(str, "true") == 0 || g_strcmp0(str, "1") == 0) {
		*value = TRUE;
	} else if (g_ascii_strcasecmp(str, "false") == 0 || g_strcmp0(str, "0") == 0) {
		*value = FALSE;
	} else {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG,
			    "[%s] %s: '%s' is neither true nor false", group, key, str);
		return FALSE;
	}
	return TRUE;
}

typedef struct {
	const gchar *group;
	const gchar *key;
	gsize offset;
} UcvStringKey;

#define STRING_KEY(g, k, field)                                                                    \
	{                                                                                          \
		g, k, G_STRUCT_OFFSET(UcvConfig, field)                                            \
	}

static const UcvStringKey string_keys[] = {
	STRING_KEY("provider", "id", provider_id),
	STRING_KEY("provider", "public-url", public_url),
	STRING_KEY("ucloud", "url", core_url),
	STRING_KEY("ucloud", "refresh-token-file", refresh_token_file),
	STRING_KEY("ucloud", "public-key-file", public_key_file),
	STRING_KEY("ucloud", "accounting", accounting),
	STRING_KEY("libvirt", "uri", libvirt_uri),
	STRING_KEY("libvirt", "domain-type", domain_type),
	STRING_KEY("libvirt", "network", network),
	STRING_KEY("libvirt", "save-dir", save_dir),
	STRING_KEY("storage", "state-dir", state_dir),
	STRING_KEY("storage", "image-dir", image_dir),
	STRING_KEY("products", "file", products_file),
	STRING_KEY("container", "kernel", container_kernel),
	STRING_KEY("container", "initrd", container_initrd),
	STRING_KEY("files", "drive-root", drive_root),
	STRING_KEY("web", "domain", web_domain),
};

static gboolean
is_safe_provider_id(const gchar *id)
{
	/* it becomes a path segment of /ucloud/<id>/: no "." or ".." */
	if (id == NULL || id[0] == '\0' || strlen(id) > 64 || strspn(id, ".") == strlen(id))
		return FALSE;
	for (const gchar *p = id; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
			return FALSE;
	}
	return TRUE;
}

static gboolean
require_absolute(const gchar *group, const gchar *key, const gchar *path, GError **error)
{
	if (g_path_is_absolute(path))
		return TRUE;
	g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG,
		    "[%s] %s must be an absolute path, not '%s'", group, key, path);
	return FALSE;
}

static gboolean
validate(UcvConfig *self, GError **error)
{
	const gchar *modes[] = {"report-usage", "charge-credits", "none", NULL};

	if (!is_safe_provider_id(self->provider_id)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG,
			    "[provider] id must be 1-64 letters, digits, '-', '_' or '.'");
		return FALSE;
	}
	if (!g_strv_contains(modes, self->accounting)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG,
			    "[ucloud] accounting must be report-usage, charge-credits or none, not "
			    "'%s'",
			    self->accounting);
		return FALSE;
	}
	if (g_strv_length(self->listen) == 0) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_CONFIG,
				    "[http] listen names no address");
		return FALSE;
	}
	if (self->domain_type[0] == '\0') {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_CONFIG,
				    "[libvirt] domain-type must be set (kvm or qemu)");
		return FALSE;
	}
	return require_absolute("storage", "state-dir", self->state_dir, error) &&
	       require_absolute("storage", "image-dir", self->image_dir, error) &&
	       require_absolute("libvirt", "save-dir", self->save_dir, error);
}

/* A ratio such as 1.5 (C locale), within (0, 100]. */
static gboolean
load_ratio(GKeyFile *kf, const gchar *group, const gchar *key, gdouble *value, GError **error)
{
	g_autofree gchar *str = NULL;
	gchar *end = NULL;
	gdouble parsed;

	if (!load_string(kf, group, key, &str, error))
		return FALSE;
	if (str == NULL)
		return TRUE;
	parsed = g_ascii_strtod(str, &end);
	if (str[0] == '\0' || *end != '\0' || !(parsed > 0 && parsed <= 100)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG,
			    "[%s] %s must be a number above 0 and at most 100, not '%s'", group,
			    key, str);
		return FALSE;
	}
	*value = parsed;
	return TRUE;
}

/* [gpu] devices: each a PCI address, once; kept in lower case as libvirt reports them. */
static gboolean
load_gpu_devices(GKeyFile *kf, UcvConfig *self, GError **error)
{
	if (!load_list(kf, "gpu", "devices", &self->gpu_devices, error))
		return FALSE;
	for (guint i = 0; self->gpu_devices[i] != NULL; i++) {
		g_autoptr(GError) error_local = NULL;
		UcvPciAddress address;
		gchar *lower = g_ascii_strdown(self->gpu_devices[i], -1);

		g_free(self->gpu_devices[i]);
		self->gpu_devices[i] = lower;
		if (!ucv_pci_address_parse(lower, &address, &error_local)) {
			g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG, "[gpu] devices: %s",
				    error_local->message);
			return FALSE;
		}
		for (guint j = 0; j < i; j++) {
			if (g_strcmp0(self->gpu_devices[j], lower) != 0)
				continue;
			g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG,
				    "[gpu] devices lists %s twice", lower);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
load_scheduler(GKeyFile *kf, UcvConfig *self, GError **error)
{
	guint64 cpus = self->reserved_cpus;
	guint64 memory = self->reserved_memory_mib;

	if (!load_uint(kf, "scheduler", "reserved-cpus", 0, G_MAXUINT16, &cpus, error) ||
	    !load_uint(kf, "scheduler", "reserved-memory", 0, G_MAXUINT32, &memory, error) ||
	    !load_ratio(kf, "scheduler", "cpu-overcommit", &self->cpu_overcommit, error) ||
	    !load_ratio(kf, "scheduler", "memory-overcommit", &self->memory_overcommit, error))
		return FALSE;
	self->reserved_cpus = cpus;
	self->reserved_memory_mib = memory;
	return load_gpu_devices(kf, self, error);
}

static gboolean
load_disk_sizes(UcvConfig *self, GKeyFile *kf, GError **error)
{
	guint64 min = self->disk_min_gib, max = self->disk_max_gib, def = self->disk_default_gib;

	if (!load_uint(kf, "disks", "min-size", 1, 65536, &min, error) ||
	    !load_uint(kf, "disks", "max-size", 1, 65536, &max, error) ||
	    !load_uint(kf, "disks", "default-size", 0, 65536, &def, error))
		return FALSE;
	if (min > max || (def != 0 && (def < min || def > max))) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_CONFIG,
				    "[disks] needs min-size <= default-size <= max-size");
		return FALSE;
	}
	self->disk_min_gib = min;
	self->disk_max_gib = max;
	self->disk_default_gib = def;
	return TRUE;
}

static gboolean
load_console(GKeyFile *kf, UcvConfig *self, GError **error)
{
	guint64 timeout = self->session_timeout_s;
	guint64 backlog = self->log_backlog_kib;

	if (!load_uint(kf, "console", "session-timeout", 5, 3600, &timeout, error) ||
	    !load_uint(kf, "console", "log-backlog", 0, 16384, &backlog, error))
		return FALSE;
	self->session_timeout_s = timeout;
	self->log_backlog_kib = backlog;
	return load_list(kf, "console", "allowed-origins", &self->allowed_origins, error);
}

static gboolean
load_container(GKeyFile *kf, UcvConfig *self, GError **error)
{
	guint64 cache = self->image_cache_gib;
	guint64 max_image = self->max_image_gib;
	guint64 timeout = self->agent_timeout_s;

	if (!load_list(kf, "container", "insecure-registries", &self->insecure_registries, error) ||
	    !load_uint(kf, "container", "image-cache-size", 1, 65536, &cache, error) ||
	    !load_uint(kf, "container", "max-image-size", 1, 65536, &max_image, error) ||
	    !load_uint(kf, "container", "agent-timeout", 5, 3600, &timeout, error))
		return FALSE;
	self->image_cache_gib = cache;
	self->max_image_gib = max_image;
	self->agent_timeout_s = timeout;
	return require_absolute("container", "kernel", self->container_kernel, error) &&
	       require_absolute("container", "initrd", self->container_initrd, error) &&
	       require_absolute("files", "drive-root", self->drive_root, error);
}

gboolean
ucv_config_load(UcvConfig *self, const gchar *path, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error_local = NULL;
	guint64 interval = self->accounting_interval;
	guint64 max_body = self->max_body_bytes;
	guint64 time_limit = self->default_time_limit_s;
	guint64 sweep = self->reconcile_interval_s;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error_local)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG, "cannot read %s: %s", path,
			    error_local->message);
		return FALSE;
	}
	for (guint i = 0; i < G_N_ELEMENTS(string_keys); i++) {
		gchar **field = G_STRUCT_MEMBER_P(self, string_keys[i].offset);
		if (!load_string(kf, string_keys[i].group, string_keys[i].key, field, error))
			return FALSE;
	}
	if (!load_list(kf, "http", "listen", &self->listen, error))
		return FALSE;
	if (!load_container(kf, self, error))
		return FALSE;
	if (!load_uint(kf, "ucloud", "accounting-interval", 1, 86400, &interval, error))
		return FALSE;
	if (!load_uint(kf, "http", "max-body-size", 1024, G_MAXUINT32, &max_body, error))
		return FALSE;
	if (!load_scheduler(kf, self, error))
		return FALSE;
	if (!load_uint(kf, "jobs", "default-time-limit", 0, G_MAXUINT32, &time_limit, error))
		return FALSE;
	self->default_time_limit_s = time_limit;
	if (!load_uint(kf, "libvirt", "reconcile-interval", 1, 60, &sweep, error))
		return FALSE;
	self->reconcile_interval_s = sweep;
	if (!load_bool(kf, "libvirt", "save-bypass-cache", &self->save_bypass_cache, error))
		return FALSE;
	if (!load_console(kf, self, error))
		return FALSE;
	if (!load_disk_sizes(self, kf, error))
		return FALSE;
	self->accounting_interval = interval;
	self->max_body_bytes = max_body;
	return validate(self, error);
}
