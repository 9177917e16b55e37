/* Fills the domain templates from xml-templates/ with escaped values of one job rank. */
#include "config.h"

#include "ucv-domain-xml.h"

#include "model/ucv-error.h"
#include "model/ucv-pci-address.h"
#include "xml-templates/ucv-resources.h"

#define UCV_TEMPLATE_PREFIX "/dk/ucloud/virt/templates/"

/* XML 1.0 cannot carry most C0 controls even as character references. */
static gboolean
ucv_xml_char_is_valid(gunichar c)
{
	if (c == '\t' || c == '\n' || c == '\r')
		return TRUE;
	if (c < 0x20 || c == 0xfffe || c == 0xffff)
		return FALSE;
	return TRUE;
}

/* Identifiers and paths must arrive exactly as given, so anything odd is refused. */
static gboolean
ucv_check_identifier(const gchar *key, const gchar *value, GError **error)
{
	if (value == NULL || value[0] == '\0') {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "domain spec lacks %s", key);
		return FALSE;
	}
	if (!g_utf8_validate(value, -1, NULL)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "%s is not valid UTF-8", key);
		return FALSE;
	}
	for (const gchar *p = value; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c < 0x20 || c == 0x7f || !ucv_xml_char_is_valid(c)) {
			g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
				    "%s contains a control character", key);
			return FALSE;
		}
	}
	return TRUE;
}

/* Free text is for humans: keep it on one line (libvirt refuses newlines in <title>). */
static gchar *
ucv_sanitize_text(const gchar *value)
{
	g_autofree gchar *valid = g_utf8_make_valid(value != NULL ? value : "", -1);
	GString *out = g_string_sized_new(strlen(valid));

	for (const gchar *p = valid; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c < 0x20 || c == 0x7f || !ucv_xml_char_is_valid(c))
			g_string_append_c(out, ' ');
		else
			g_string_append_unichar(out, c);
	}
	return g_string_free(out, FALSE);
}

static void
ucv_put_escaped(GHashTable *values, const gchar *key, const gchar *raw)
{
	g_hash_table_insert(values, g_strdup(key), g_markup_escape_text(raw, -1));
}

static void
ucv_put_text(GHashTable *values, const gchar *key, const gchar *raw)
{
	g_autofree gchar *clean = ucv_sanitize_text(raw);
	ucv_put_escaped(values, key, clean);
}

typedef struct {
	const gchar *key;
	const gchar *value;
} UcvSpecField;

static gboolean
ucv_check_identifiers(const UcvSpecField *fields, guint n_fields, GError **error)
{
	for (guint i = 0; i < n_fields; i++) {
		if (!ucv_check_identifier(fields[i].key, fields[i].value, error))
			return FALSE;
	}
	return TRUE;
}

/* The paths a machine of its kind needs: a VM its overlay and display, a container host what
 * it boots and talks through. */
static gboolean
ucv_spec_validate_kind(const UcvDomainSpec *spec, GError **error)
{
	const UcvSpecField vm[] = {
		{"disk_format", spec->disk_format},
		{"vnc_socket", spec->vnc_socket},
	};
	const UcvSpecField container[] = {
		{"initrd", spec->initrd},
		{"config_file", spec->config_file},
		{"agent_socket", spec->agent_socket},
		{"share_dir", spec->share_dir},
		{"image_digest", spec->image_digest},
	};

	if (spec->kernel == NULL)
		return ucv_check_identifiers(vm, G_N_ELEMENTS(vm), error);
	return ucv_check_identifier("kernel", spec->kernel, error) &&
	       ucv_check_identifiers(container, G_N_ELEMENTS(container), error);
}

static gboolean
ucv_spec_validate(const UcvDomainSpec *spec, GError **error)
{
	const UcvSpecField ids[] = {
		{"name", spec->name},           {"domain_type", spec->domain_type},
		{"disk_path", spec->disk_path}, {"console_log", spec->console_log},
		{"job_id", spec->job_id},
	};
	const gchar *texts[] = {spec->title, spec->owner, spec->product, spec->application};

	if (spec->vcpus == 0 || spec->memory_mib == 0) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    "a domain needs at least one vCPU and some memory");
		return FALSE;
	}
	if (!ucv_check_identifiers(ids, G_N_ELEMENTS(ids), error) ||
	    !ucv_spec_validate_kind(spec, error))
		return FALSE;
	for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
		if (texts[i] == NULL) {
			g_set_error_literal(
				error, UCV_ERROR, UCV_ERROR_INVALID,
				"domain spec lacks a title, owner, product or application");
			return FALSE;
		}
	}
	if (spec->network != NULL && spec->network[0] != '\0')
		return ucv_check_identifier("network", spec->network, error);
	return TRUE;
}

static gchar *
ucv_template_load(const gchar *name, GError **error)
{
	g_autofree gchar *path = g_strconcat(UCV_TEMPLATE_PREFIX, name, NULL);
	g_autoptr(GBytes) bytes = NULL;

	bytes = g_resource_lookup_data(ucv_get_resource(), path, G_RESOURCE_LOOKUP_FLAGS_NONE,
				       error);
	if (bytes == NULL)
		return NULL;
	return g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
}

/* A marker is @key@ with key in [a-z_]; any other '@' is literal text. */
static gboolean
ucv_marker_at(const gchar *p, gsize *key_len)
{
	gsize n = 0;

	if (p[0] != '@')
		return FALSE;
	while (g_ascii_islower(p[1 + n]) || p[1 + n] == '_')
		n++;
	if (n == 0 || p[1 + n] != '@')
		return FALSE;
	*key_len = n;
	return TRUE;
}

static gboolean
ucv_expand_line(const gchar *line, GHashTable *values, GString *out, GError **error)
{
	for (const gchar *p = line; *p != '\0';) {
		gsize n = 0;
		g_autofree gchar *key = NULL;
		const gchar *value;

		if (!ucv_marker_at(p, &n)) {
			g_string_append_c(out, *p++);
			continue;
		}
		key = g_strndup(p + 1, n);
		value = g_hash_table_lookup(values, key);
		if (value == NULL) {
			g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED,
				    "template uses unknown marker @%s@", key);
			return FALSE;
		}
		g_string_append(out, value);
		p += n + 2;
	}
	return TRUE;
}

/* A line holding nothing but a marker whose value is empty disappears entirely,
 * so optional devices leave no blank line behind. */
static gboolean
ucv_line_is_empty_marker(const gchar *line, GHashTable *values)
{
	g_autofree gchar *stripped = g_strstrip(g_strdup(line));
	gsize n = 0;
	const gchar *value;

	if (!ucv_marker_at(stripped, &n) || stripped[n + 2] != '\0')
		return FALSE;
	stripped[n + 1] = '\0';
	value = g_hash_table_lookup(values, stripped + 1);
	return value != NULL && value[0] == '\0';
}

static gchar *
ucv_template_render(const gchar *name, GHashTable *values, GError **error)
{
	g_autofree gchar *text = ucv_template_load(name, error);
	g_auto(GStrv) lines = NULL;
	g_autoptr(GString) out = g_string_new(NULL);
	guint n_lines;

	if (text == NULL)
		return NULL;
	lines = g_strsplit(text, "\n", -1);
	n_lines = g_strv_length(lines);
	for (guint i = 0; i < n_lines; i++) {
		if (ucv_line_is_empty_marker(lines[i], values))
			continue;
		if (!ucv_expand_line(lines[i], values, out, error)) {
			g_prefix_error(error, "%s: ", name);
			return NULL;
		}
		if (i + 1 < n_lines)
			g_string_append_c(out, '\n');
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

static gchar *
ucv_render_interface(const UcvDomainSpec *spec, GError **error)
{
	g_autoptr(GHashTable) values =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	gchar *xml;

	if (spec->network == NULL || spec->network[0] == '\0')
		return g_strdup("");
	ucv_put_escaped(values, "network", spec->network);
	xml = ucv_template_render("vm-interface.xml", values, error);
	/* the marker's own line supplies the newline */
	return xml != NULL ? g_strchomp(xml) : NULL;
}

/* The cloud-init seed as a cdrom on virtio-scsi: the cloud kernel has no AHCI for SATA. */
static gchar *
ucv_render_seed(const UcvDomainSpec *spec, GError **error)
{
	g_autoptr(GHashTable) values =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	gchar *xml;

	if (spec->seed_path == NULL || spec->seed_path[0] == '\0')
		return g_strdup("");
	ucv_put_escaped(values, "seed_path", spec->seed_path);
	xml = ucv_template_render("vm-seed.xml", values, error);
	return xml != NULL ? g_strchomp(xml) : NULL;
}

static gchar *
ucv_render_hostdev(const gchar *device, GError **error)
{
	g_autoptr(GHashTable) values =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	UcvPciAddress address;
	gchar *xml;
	g_autofree gchar *domain = NULL;
	g_autofree gchar *bus = NULL;
	g_autofree gchar *slot = NULL;
	g_autofree gchar *function = NULL;

	if (!ucv_pci_address_parse(device, &address, error))
		return NULL;
	domain = g_strdup_printf("%04x", address.domain);
	bus = g_strdup_printf("%02x", address.bus);
	slot = g_strdup_printf("%02x", address.slot);
	function = g_strdup_printf("%x", address.function);
	ucv_put_escaped(values, "pci_domain", domain);
	ucv_put_escaped(values, "pci_bus", bus);
	ucv_put_escaped(values, "pci_slot", slot);
	ucv_put_escaped(values, "pci_function", function);
	xml = ucv_template_render("vm-hostdev.xml", values, error);
	return xml != NULL ? g_strchomp(xml) : NULL;
}

/* The devices again in the provider's metadata, so that after a restart the scheduler knows
 * which ones the machine holds without reading its whole XML. */
static gchar *
ucv_render_gpu_metadata(const UcvDomainSpec *spec, GError **error)
{
	g_autoptr(GString) out = g_string_new(NULL);

	for (guint i = 0; spec->gpu_devices != NULL && spec->gpu_devices[i] != NULL; i++) {
		UcvPciAddress address;

		if (!ucv_pci_address_parse(spec->gpu_devices[i], &address, error))
			return NULL;
		if (out->len > 0)
			g_string_append_c(out, '\n');
		g_string_append_printf(out, "      <ucv:gpu>%04x:%02x:%02x.%x</ucv:gpu>",
				       address.domain, address.bus, address.slot, address.function);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* One <hostdev> per device, from numbers parsed out of the address: nothing else gets in. */
static gchar *
ucv_render_hostdevs(const UcvDomainSpec *spec, GError **error)
{
	g_autoptr(GString) out = g_string_new(NULL);

	for (guint i = 0; spec->gpu_devices != NULL && spec->gpu_devices[i] != NULL; i++) {
		g_autofree gchar *xml = ucv_render_hostdev(spec->gpu_devices[i], error);
		if (xml == NULL)
			return NULL;
		if (out->len > 0)
			g_string_append_c(out, '\n');
		g_string_append(out, xml);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* What every machine of a job shows `virsh list --title` and `virsh dumpxml`. */
static void
ucv_put_identity(GHashTable *values, const UcvDomainSpec *spec)
{
	g_autofree gchar *rank = g_strdup_printf("%u", spec->rank);
	g_autofree gchar *vcpus = g_strdup_printf("%u", spec->vcpus);
	g_autofree gchar *memory = g_strdup_printf("%" G_GUINT64_FORMAT, spec->memory_mib);

	ucv_put_escaped(values, "metadata_uri", UCV_DOMAIN_METADATA_URI);
	ucv_put_escaped(values, "name", spec->name);
	ucv_put_escaped(values, "domain_type", spec->domain_type);
	ucv_put_escaped(values, "disk_path", spec->disk_path);
	ucv_put_escaped(values, "console_log", spec->console_log);
	ucv_put_escaped(values, "job_id", spec->job_id);
	ucv_put_escaped(values, "rank", rank);
	ucv_put_escaped(values, "vcpus", vcpus);
	ucv_put_escaped(values, "memory_mib", memory);
	ucv_put_text(values, "title", spec->title);
	ucv_put_text(values, "owner", spec->owner);
	ucv_put_text(values, "project", spec->project);
	ucv_put_text(values, "description_project", spec->project != NULL ? spec->project : "-");
	ucv_put_text(values, "product", spec->product);
	ucv_put_text(values, "application", spec->application);
}

/* Takes a rendered fragment (NULL: failed) as the value of `key`. */
static gboolean
ucv_put_fragment(GHashTable *values, const gchar *key, gchar *fragment)
{
	if (fragment == NULL)
		return FALSE;
	g_hash_table_insert(values, g_strdup(key), fragment);
	return TRUE;
}

static gchar *
ucv_render_vm(const UcvDomainSpec *spec, GHashTable *values, GError **error)
{
	if (!ucv_put_fragment(values, "hostdevs", ucv_render_hostdevs(spec, error)) ||
	    !ucv_put_fragment(values, "gpu_metadata", ucv_render_gpu_metadata(spec, error)) ||
	    !ucv_put_fragment(values, "seed", ucv_render_seed(spec, error)))
		return NULL;
	ucv_put_escaped(values, "disk_format", spec->disk_format);
	ucv_put_escaped(values, "vnc_socket", spec->vnc_socket);
	return ucv_template_render("vm-domain.xml", values, error);
}

static gchar *
ucv_render_container_host(const UcvDomainSpec *spec, GHashTable *values, GError **error)
{
	ucv_put_escaped(values, "kernel", spec->kernel);
	ucv_put_escaped(values, "initrd", spec->initrd);
	ucv_put_escaped(values, "config_file", spec->config_file);
	ucv_put_escaped(values, "agent_socket", spec->agent_socket);
	ucv_put_escaped(values, "share_dir", spec->share_dir);
	ucv_put_escaped(values, "image_digest", spec->image_digest);
	return ucv_template_render("container-domain.xml", values, error);
}

gchar *
ucv_domain_xml_render(const UcvDomainSpec *spec, GError **error)
{
	g_autoptr(GHashTable) values =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

	g_return_val_if_fail(spec != NULL, NULL);

	if (!ucv_spec_validate(spec, error) ||
	    !ucv_put_fragment(values, "interface", ucv_render_interface(spec, error)))
		return NULL;
	ucv_put_identity(values, spec);
	if (spec->kernel != NULL)
		return ucv_render_container_host(spec, values, error);
	return ucv_render_vm(spec, values, error);
}

gchar *
ucv_domain_name_for(const gchar *job_id, guint rank)
{
	g_return_val_if_fail(job_id != NULL, NULL);
	return g_strdup_printf("ucloud-%s-%u", job_id, rank);
}
