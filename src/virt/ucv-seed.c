/* cloud-init NoCloud seeds for VM jobs: meta-data, user-data and network-config on a cidata ISO. */
#define G_LOG_DOMAIN "ucv-virt"

#include "config.h"

#include "ucv-seed.h"

#include <stdint.h> /* libisofs.h uses uint32_t without including it */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* libisofs declares struct burn_source itself only when told libburn is absent */
#define LIBISOFS_WITHOUT_LIBBURN
#include <libisofs/libisofs.h>

#include "model/ucv-error.h"

#define UCV_SEED_VOLUME_ID       "cidata"
#define UCV_SEED_INIT_SCRIPT     "/var/lib/ucloud-virt/init-script"
#define UCV_SEED_INSTANCE_ID_MAX 128
#define UCV_SEED_SSH_TYPE_MAX    64

G_DEFINE_AUTOPTR_CLEANUP_FUNC(IsoImage, iso_image_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(IsoWriteOpts, iso_write_opts_free)

static void
ucv_burn_source_free(struct burn_source *src)
{
	src->free_data(src);
	free(src);
}

typedef struct burn_source UcvBurnSource;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvBurnSource, ucv_burn_source_free)

/* iso_init() sets up process-wide state and must run once before anything else */
static gboolean
ucv_seed_iso_init(GError **error)
{
	static gsize once = 0;
	static int rc = 0;

	if (g_once_init_enter(&once)) {
		/* bit 0: leave the process locale alone; every name written here is ASCII */
		rc = iso_init_with_flag(1);
		/* errors come back as return codes; nothing should reach the daemon's stderr */
		iso_set_msgs_severities((char *)"NEVER", (char *)"NEVER", (char *)"ucv-seed");
		g_once_init_leave(&once, 1);
	}
	if (rc < 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot initialise libisofs: %s",
			    iso_error_to_msg(rc));
		return FALSE;
	}
	return TRUE;
}

/* A YAML double-quoted scalar that is pure printable ASCII, so no value can end the scalar, start
 * a new key or line, or be read differently by YAML 1.1 and 1.2 parsers. */
static void
ucv_yaml_append_quoted(GString *out, const gchar *value)
{
	g_autofree gchar *valid = g_utf8_make_valid(value, -1);

	g_string_append_c(out, '"');
	for (const gchar *p = valid; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c == '"' || c == '\\')
			g_string_append_printf(out, "\\%c", (gchar)c);
		else if (c >= 0x20 && c < 0x7f)
			g_string_append_c(out, (gchar)c);
		else if (c < 0x10000)
			g_string_append_printf(out, "\\u%04X", c);
		else
			g_string_append_printf(out, "\\U%08X", c);
	}
	g_string_append_c(out, '"');
}

static void
ucv_yaml_append_pair(GString *out, const gchar *indent, const gchar *key, const gchar *value)
{
	g_string_append_printf(out, "%s%s: ", indent, key);
	ucv_yaml_append_quoted(out, value);
	g_string_append_c(out, '\n');
}

gboolean
ucv_seed_hostname_is_valid(const gchar *hostname)
{
	gsize len;

	if (hostname == NULL)
		return FALSE;
	len = strlen(hostname);
	if (len == 0 || len > 63 || hostname[0] == '-' || hostname[len - 1] == '-')
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(hostname[i]) && hostname[i] != '-')
			return FALSE;
	}
	return TRUE;
}

static gboolean
ucv_seed_instance_id_is_valid(const gchar *instance_id)
{
	gsize len;

	if (instance_id == NULL)
		return FALSE;
	len = strlen(instance_id);
	if (len == 0 || len > UCV_SEED_INSTANCE_ID_MAX)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(instance_id[i]) && strchr("._:-", instance_id[i]) == NULL)
			return FALSE;
	}
	return TRUE;
}

static gboolean
ucv_ssh_type_is_valid(const gchar *type, gsize len)
{
	if (len == 0 || len > UCV_SEED_SSH_TYPE_MAX)
		return FALSE;
	if (!g_str_has_prefix(type, "ssh-") && !g_str_has_prefix(type, "ecdsa-") &&
	    !g_str_has_prefix(type, "sk-"))
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(type[i]) && strchr("@.-", type[i]) == NULL)
			return FALSE;
	}
	return TRUE;
}

/* The blob is the key in SSH wire format; its first field is the key type again. */
static gboolean
ucv_ssh_blob_matches_type(const gchar *blob, gsize blob_len, const gchar *type, gsize type_len)
{
	g_autofree gchar *text = g_strndup(blob, blob_len);
	g_autofree guchar *raw = NULL;
	gsize raw_len = 0;
	guint32 field_len;

	if (blob_len == 0 || blob_len % 4 != 0)
		return FALSE;
	for (gsize i = 0; i < blob_len; i++) {
		if (!g_ascii_isalnum(blob[i]) && strchr("+/=", blob[i]) == NULL)
			return FALSE;
	}
	raw = g_base64_decode(text, &raw_len);
	if (raw_len < 4 + type_len)
		return FALSE;
	field_len = (guint32)raw[0] << 24 | (guint32)raw[1] << 16 | (guint32)raw[2] << 8 | raw[3];
	return field_len == type_len && memcmp(raw + 4, type, type_len) == 0;
}

static gboolean
ucv_ssh_key_has_control_chars(const gchar *key)
{
	for (const gchar *p = key; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c != '\t' && (g_unichar_iscntrl(c) || c == 0x2028 || c == 0x2029))
			return TRUE;
	}
	return FALSE;
}

gchar *
ucv_seed_normalize_ssh_key(const gchar *key)
{
	g_autofree gchar *line = NULL;
	const gchar *type, *blob, *comment;
	gsize type_len, blob_len;

	if (key == NULL || !g_utf8_validate(key, -1, NULL))
		return NULL;
	/* a trailing newline from a pasted file is harmless; any other line break is not */
	line = g_strstrip(g_strdup(key));
	if (ucv_ssh_key_has_control_chars(line))
		return NULL;
	type = line;
	type_len = strcspn(type, " \t");
	blob = type + type_len + strspn(type + type_len, " \t");
	blob_len = strcspn(blob, " \t");
	comment = blob + blob_len + strspn(blob + blob_len, " \t");
	if (!ucv_ssh_type_is_valid(type, type_len))
		return NULL;
	if (!ucv_ssh_blob_matches_type(blob, blob_len, type, type_len))
		return NULL;
	return g_strdup_printf("%.*s %.*s%s%s", (int)type_len, type, (int)blob_len, blob,
			       *comment != '\0' ? " " : "", comment);
}

static gchar *
ucv_seed_meta_data(const UcvSeedSpec *spec)
{
	GString *out = g_string_new("# cloud-init NoCloud meta-data, written by ucloud-virt\n");

	ucv_yaml_append_pair(out, "", "instance-id", spec->instance_id);
	ucv_yaml_append_pair(out, "", "local-hostname", spec->hostname);
	return g_string_free(out, FALSE);
}

static void
ucv_seed_append_keys(GString *out, const gchar *const *keys)
{
	guint n_valid = 0;

	g_string_append(out, "    ssh_authorized_keys:");
	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		g_autofree gchar *key = ucv_seed_normalize_ssh_key(keys[i]);
		if (key == NULL) {
			/* the key itself stays out of the log */
			g_warning("skipping SSH key %u of the seed: not a single-line ssh-, ecdsa- "
				  "or sk- public key",
				  i);
			continue;
		}
		g_string_append(out, "\n      - ");
		ucv_yaml_append_quoted(out, key);
		n_valid++;
	}
	g_string_append(out, n_valid == 0 ? " []\n" : "\n");
}

/* The script travels as base64, so cloud-init writes it back byte-for-byte whatever it contains. */
static void
ucv_seed_append_init_script(GString *out, const gchar *script)
{
	g_autofree gchar *encoded = g_base64_encode((const guchar *)script, strlen(script));

	g_string_append(out, "write_files:\n"
			     "  - path: \"" UCV_SEED_INIT_SCRIPT "\"\n"
			     "    owner: \"root:root\"\n"
			     "    permissions: \"0700\"\n"
			     "    encoding: \"b64\"\n");
	ucv_yaml_append_pair(out, "    ", "content", encoded);
	/* runcmd runs once per instance, late in the first boot, after users and ssh are set up */
	if (g_str_has_prefix(script, "#!"))
		g_string_append(out, "runcmd:\n  - [\"" UCV_SEED_INIT_SCRIPT "\"]\n");
	else
		g_string_append(out, "runcmd:\n  - [\"/bin/sh\", \"" UCV_SEED_INIT_SCRIPT "\"]\n");
}

static gchar *
ucv_seed_user_data(const UcvSeedSpec *spec)
{
	GString *out = g_string_new("#cloud-config\n# written by ucloud-virt\n");

	ucv_yaml_append_pair(out, "", "hostname", spec->hostname);
	g_string_append(out, "preserve_hostname: false\n"
			     "manage_etc_hosts: true\n"
			     "ssh_pwauth: false\n"
			     "users:\n"
			     "  - name: \"ucloud\"\n"
			     "    gecos: \"UCloud user\"\n"
			     "    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n"
			     "    shell: \"/bin/bash\"\n"
			     "    lock_passwd: true\n");
	ucv_seed_append_keys(out, spec->ssh_keys);
	if (spec->user_data != NULL && spec->user_data[0] != '\0')
		ucv_seed_append_init_script(out, spec->user_data);
	return g_string_free(out, FALSE);
}

static gchar *
ucv_seed_network_config(void)
{
	return g_strdup("# cloud-init network config, written by ucloud-virt\n"
			"version: 2\n"
			"ethernets:\n"
			"  ucloud-nics:\n"
			"    match:\n"
			"      name: \"en*\"\n"
			"    dhcp4: true\n");
}

static gboolean
ucv_seed_add_file(IsoImage *image, const gchar *name, const gchar *text, GError **error)
{
	gsize len = strlen(text);
	/* the stream frees its buffer with free() */
	unsigned char *buf = malloc(len);
	IsoStream *stream = NULL;
	int rc;

	if (buf == NULL) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "out of memory for %s", name);
		return FALSE;
	}
	memcpy(buf, text, len);
	rc = iso_memory_stream_new(buf, len, &stream);
	if (rc < 0) {
		free(buf);
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot add %s: %s", name,
			    iso_error_to_msg(rc));
		return FALSE;
	}
	rc = iso_image_add_new_file(image, iso_image_get_root(image), name, stream, NULL);
	if (rc < 0) {
		iso_stream_unref(stream);
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot add %s: %s", name,
			    iso_error_to_msg(rc));
		return FALSE;
	}
	return TRUE;
}

static IsoImage *
ucv_seed_build_image(const UcvSeedSpec *spec, GError **error)
{
	g_autoptr(IsoImage) image = NULL;
	g_autofree gchar *meta_data = ucv_seed_meta_data(spec);
	g_autofree gchar *user_data = ucv_seed_user_data(spec);
	g_autofree gchar *network_config = ucv_seed_network_config();
	int rc;

	rc = iso_image_new(UCV_SEED_VOLUME_ID, &image);
	if (rc < 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot create an ISO image: %s",
			    iso_error_to_msg(rc));
		return NULL;
	}
	iso_image_set_application_id(image, "ucloud-virt");
	if (!ucv_seed_add_file(image, "meta-data", meta_data, error))
		return NULL;
	if (!ucv_seed_add_file(image, "user-data", user_data, error))
		return NULL;
	if (!ucv_seed_add_file(image, "network-config", network_config, error))
		return NULL;
	return g_steal_pointer(&image);
}

/* libisofs produces the image in its own thread; read it out a sector at a time. */
static GBytes *
ucv_seed_render_iso(IsoImage *image, GError **error)
{
	g_autoptr(IsoWriteOpts) opts = NULL;
	g_autoptr(UcvBurnSource) src = NULL;
	g_autoptr(GByteArray) iso = g_byte_array_new();
	guint8 sector[2048];
	int rc;

	rc = iso_write_opts_new(&opts, 0);
	if (rc < 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot set up ISO options: %s",
			    iso_error_to_msg(rc));
		return NULL;
	}
	/* Rock Ridge for Linux, Joliet for everyone else: both keep "meta-data" as it is */
	iso_write_opts_set_rockridge(opts, 1);
	iso_write_opts_set_joliet(opts, 1);
	/* keep the label "cidata" lowercase, as cloud-init's docs and genisoimage -V write it */
	iso_write_opts_set_relaxed_vol_atts(opts, 1);
	rc = iso_image_create_burn_source(image, opts, &src);
	if (rc < 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot write the ISO: %s",
			    iso_error_to_msg(rc));
		return NULL;
	}
	while ((rc = src->read_xt(src, sector, sizeof(sector))) > 0)
		g_byte_array_append(iso, sector, (guint)rc);
	if (rc < 0) {
		src->cancel(src);
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_FAILED,
				    "libisofs failed while writing the ISO");
		return NULL;
	}
	return g_byte_array_free_to_bytes(g_steal_pointer(&iso));
}

static gboolean
ucv_seed_check_spec(const UcvSeedSpec *spec, GError **error)
{
	if (!ucv_seed_instance_id_is_valid(spec->instance_id)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    "the instance id of the seed is not valid");
		return FALSE;
	}
	if (!ucv_seed_hostname_is_valid(spec->hostname)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    "the hostname must be one RFC 1123 label: 1-63 letters, "
				    "digits and '-', not starting or ending with '-'");
		return FALSE;
	}
	return TRUE;
}

gboolean
ucv_seed_write(const UcvSeedSpec *spec, const gchar *path, GError **error)
{
	g_autoptr(IsoImage) image = NULL;
	g_autoptr(GBytes) iso = NULL;

	g_return_val_if_fail(spec != NULL, FALSE);
	g_return_val_if_fail(path != NULL, FALSE);

	if (!ucv_seed_check_spec(spec, error))
		return FALSE;
	if (!ucv_seed_iso_init(error))
		return FALSE;
	image = ucv_seed_build_image(spec, error);
	if (image == NULL)
		return FALSE;
	iso = ucv_seed_render_iso(image, error);
	if (iso == NULL)
		return FALSE;
	/* CONSISTENT: a temporary file beside `path`, fsynced and renamed over it; 0600 because
	 * an init script may hold secrets (libvirt's DAC driver hands the file to QEMU) */
	if (!g_file_set_contents_full(path, g_bytes_get_data(iso, NULL), g_bytes_get_size(iso),
				      G_FILE_SET_CONTENTS_CONSISTENT, 0600, error)) {
		g_prefix_error(error, "cannot write the cloud-init seed: ");
		return FALSE;
	}

	/* success */
	return TRUE;
}

typedef struct {
	gchar *instance_id;
	gchar *hostname;
	gchar **ssh_keys;
	gchar *user_data;
	gchar *path;
} UcvSeedHelper;

static void
ucv_seed_helper_free(UcvSeedHelper *helper)
{
	g_free(helper->instance_id);
	g_free(helper->hostname);
	g_strfreev(helper->ssh_keys);
	g_free(helper->user_data);
	g_free(helper->path);
	g_free(helper);
}

static void
ucv_seed_write_thread(GTask *task, gpointer source_object, gpointer task_data,
		      GCancellable *cancellable)
{
	UcvSeedHelper *helper = task_data;
	UcvSeedSpec spec = {
		.instance_id = helper->instance_id,
		.hostname = helper->hostname,
		.ssh_keys = (const gchar *const *)helper->ssh_keys,
		.user_data = helper->user_data,
	};
	g_autoptr(GError) error = NULL;

	if (!ucv_seed_write(&spec, helper->path, &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	g_task_return_boolean(task, TRUE);
}

void
ucv_seed_write_async(const UcvSeedSpec *spec, const gchar *path, GCancellable *cancellable,
		     GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
	UcvSeedHelper *helper = g_new0(UcvSeedHelper, 1);

	helper->instance_id = g_strdup(spec->instance_id);
	helper->hostname = g_strdup(spec->hostname);
	helper->ssh_keys = g_strdupv((gchar **)spec->ssh_keys);
	helper->user_data = g_strdup(spec->user_data);
	helper->path = g_strdup(path);
	g_task_set_source_tag(task, ucv_seed_write_async);
	g_task_set_task_data(task, helper, (GDestroyNotify)ucv_seed_helper_free);
	g_task_run_in_thread(task, ucv_seed_write_thread);
}

gboolean
ucv_seed_write_finish(GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, NULL), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}
