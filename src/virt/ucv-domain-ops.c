/* Blocking domain operations on a libvirt connection; safe from any thread. */
#define G_LOG_DOMAIN "ucv-virt"

#include "config.h"

#include "ucv-domain-ops.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>

#include "model/ucv-error.h"
#include "virt/ucv-virt-log.h"
#include "virt/ucv-domain-metadata.h"
#include "virt/ucv-domain-xml.h"
#include "virt/ucv-libvirt-error.h"
#include "virt/ucv-save-params.h"

static void
ucv_domain_unref(virDomainPtr dom)
{
	virDomainFree(dom);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, ucv_domain_unref)

/* Reads what the engine needs of one domain; job_id stays NULL when the provider's metadata
 * is absent or unreadable. */
static UcvDomainInfo *
ucv_domain_info_read(virDomainPtr dom)
{
	g_autoptr(UcvDomainInfo) info = g_new0(UcvDomainInfo, 1);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *metadata = NULL;

	info->name = g_strdup(virDomainGetName(dom));
	info->active = virDomainIsActive(dom) == 1;
	info->has_managed_save = virDomainHasManagedSaveImage(dom, 0) == 1;
	metadata =
		virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, UCV_DOMAIN_METADATA_URI, 0);
	if (metadata == NULL)
		return g_steal_pointer(&info);
	if (!ucv_domain_metadata_parse(metadata, &info->job_id, &info->rank, &info->gpu_devices,
				       &error))
		ucv_domain_log(G_LOG_LEVEL_WARNING, info->name,
			       "domain %s carries unreadable metadata: %s", info->name,
			       error->message);
	return g_steal_pointer(&info);
}

GPtrArray *
ucv_domain_ops_list(virConnectPtr conn, GError **error)
{
	g_autoptr(GPtrArray) infos = NULL;
	virDomainPtr *doms = NULL;
	int n;

	n = virConnectListAllDomains(conn, &doms, 0);
	if (n < 0) {
		ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot list domains");
		return NULL;
	}
	infos = g_ptr_array_new_with_free_func((GDestroyNotify)ucv_domain_info_free);
	for (int i = 0; i < n; i++) {
		g_autoptr(UcvDomainInfo) info = ucv_domain_info_read(doms[i]);
		if (info->job_id != NULL)
			g_ptr_array_add(infos, g_steal_pointer(&info));
		virDomainFree(doms[i]);
	}
	free(doms);
	return g_steal_pointer(&infos);
}

UcvDomainInfo *
ucv_domain_ops_lookup(virConnectPtr conn, const gchar *name, GError **error)
{
	g_autoptr(virDomain) dom = virDomainLookupByName(conn, name);

	if (dom == NULL) {
		if (ucv_libvirt_error_code() != VIR_ERR_NO_DOMAIN)
			ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot look up %s", name);
		return NULL;
	}
	return ucv_domain_info_read(dom);
}

/* The <name> directly below <domain>: needed to find an older definition of the same domain. */
typedef struct {
	guint depth;
	gboolean in_name;
	GString *name;
} UcvNameParse;

static void
ucv_name_start(GMarkupParseContext *context, const gchar *element, const gchar **names,
	       const gchar **values, gpointer user_data, GError **error)
{
	UcvNameParse *parse = user_data;

	parse->depth++;
	parse->in_name = parse->depth == 2 && g_strcmp0(element, "name") == 0;
}

static void
ucv_name_end(GMarkupParseContext *context, const gchar *element, gpointer user_data, GError **error)
{
	UcvNameParse *parse = user_data;

	parse->depth--;
	parse->in_name = FALSE;
}

static void
ucv_name_text(GMarkupParseContext *context, const gchar *text, gsize len, gpointer user_data,
	      GError **error)
{
	UcvNameParse *parse = user_data;

	if (!parse->in_name)
		return;
	if (parse->name == NULL)
		parse->name = g_string_new(NULL);
	g_string_append_len(parse->name, text, len);
}

/* parse keeps what it found even when the XML is malformed, so the caller frees it either way */
static gboolean
ucv_name_scan(const gchar *xml, UcvNameParse *parse, GError **error)
{
	const GMarkupParser parser = {ucv_name_start, ucv_name_end, ucv_name_text, NULL, NULL};
	g_autoptr(GMarkupParseContext) context =
		g_markup_parse_context_new(&parser, 0, parse, NULL);

	return g_markup_parse_context_parse(context, xml, -1, error) &&
	       g_markup_parse_context_end_parse(context, error);
}

static gchar *
ucv_xml_get_name(const gchar *xml, GError **error)
{
	UcvNameParse parse = {0};
	g_autoptr(GError) error_local = NULL;
	gboolean ok = ucv_name_scan(xml, &parse, &error_local);
	g_autoptr(GString) name = g_steal_pointer(&parse.name);

	if (!ok) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "domain XML is malformed: %s",
			    error_local->message);
		return NULL;
	}
	if (name == NULL || name->len == 0) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID, "domain XML has no name");
		return NULL;
	}
	return g_string_free(g_steal_pointer(&name), FALSE);
}

/* libvirt refuses a definition whose name is taken by a different UUID, and a fresh parse
 * invents one; carrying the old UUID over turns the define into an update that keeps the
 * managed-save image. Every value in our XML is escaped, so the first </name> is the tag. */
static gchar *
ucv_xml_with_uuid(virDomainPtr dom, const gchar *xml, GError **error)
{
	gchar uuid[VIR_UUID_STRING_BUFLEN] = {0};
	const gchar *end = strstr(xml, "</name>");

	if (end == NULL || strstr(xml, "<uuid>") != NULL)
		return g_strdup(xml);
	if (virDomainGetUUIDString(dom, uuid) < 0) {
		ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot read the UUID of %s",
				      virDomainGetName(dom));
		return NULL;
	}
	end += strlen("</name>");
	return g_strdup_printf("%.*s\n  <uuid>%s</uuid>%s", (int)(end - xml), xml, uuid, end);
}

void
ucv_domain_start_result_free(UcvDomainStartResult *result)
{
	if (result == NULL)
		return;
	g_free(result->set_aside);
	g_free(result);
}

static UcvDomainStartResult *
ucv_domain_start_result_new(UcvDomainStart outcome, gchar *set_aside)
{
	UcvDomainStartResult *result = g_new0(UcvDomainStartResult, 1);

	result->outcome = outcome;
	result->set_aside = set_aside;
	return result;
}

/* The first bytes of a complete save image; libvirt writes "LibvirtQemudPart" until it is
 * done, and silently boots afresh (losing the memory) from anything that is not complete. */
#define UCV_SAVE_IMAGE_MAGIC "LibvirtQemudSave"

static gchar *
ucv_save_image_path(const gchar *save_dir, const gchar *name)
{
	g_autofree gchar *base = g_strdup_printf("%s.save", name);

	return g_build_filename(save_dir, base, NULL);
}

/* FALSE only when the image is there and plainly not a complete one; a directory this process
 * cannot see (or a missing image) leaves the judgement to libvirt. */
static gboolean
ucv_save_image_looks_whole(const gchar *image)
{
	gchar magic[sizeof(UCV_SAVE_IMAGE_MAGIC) - 1] = {0};
	g_autoptr(GError) error = NULL;
	g_autoptr(GFileInputStream) in = NULL;
	g_autoptr(GFile) file = g_file_new_for_path(image);
	gsize got = 0;

	in = g_file_read(file, NULL, &error);
	if (in == NULL)
		return TRUE;
	if (!g_input_stream_read_all(G_INPUT_STREAM(in), magic, sizeof(magic), &got, NULL, &error))
		return TRUE;
	return got == sizeof(magic) && memcmp(magic, UCV_SAVE_IMAGE_MAGIC, sizeof(magic)) == 0;
}

/* The saved memory will not restore: it goes aside for the admin (never deleted, it is the
 * guest's memory) as <image>.corrupt-<unix time>. */
static gchar *
ucv_set_image_aside(const gchar *name, const gchar *image, GError **error)
{
	g_autofree gchar *aside = g_strdup_printf("%s.corrupt-%" G_GINT64_FORMAT, image,
						  g_get_real_time() / G_USEC_PER_SEC);

	if (g_rename(image, aside) != 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_LIBVIRT,
			    "cannot restore %s, nor move its saved memory %s aside: %s", name,
			    image, g_strerror(errno));
		return NULL;
	}
	ucv_domain_log(G_LOG_LEVEL_WARNING, name,
		       "the saved memory of %s would not restore; moved to %s, booting afresh",
		       name, aside);
	return g_steal_pointer(&aside);
}

/* Boots the domain from its disk once its saved memory is out of the way. */
static UcvDomainStartResult *
ucv_domain_boot_fresh(virDomainPtr dom, const gchar *name, const gchar *image, GError **error)
{
	g_autofree gchar *aside = ucv_set_image_aside(name, image, error);

	if (aside == NULL)
		return NULL;
	if (virDomainCreate(dom) != 0) {
		ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot start %s", name);
		return NULL;
	}
	return ucv_domain_start_result_new(UCV_DOMAIN_START_BOOTED_FRESH, g_steal_pointer(&aside));
}

static UcvDomainStartResult *
ucv_domain_define_and_create(virConnectPtr conn, const gchar *name, const gchar *xml,
			     const gchar *save_dir, GError **error)
{
	g_autoptr(virDomain) dom = virDomainDefineXML(conn, xml);
	g_autofree gchar *image = NULL;

	if (dom == NULL) {
		ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot define %s", name);
		return NULL;
	}
	if (save_dir != NULL && virDomainHasManagedSaveImage(dom, 0) == 1)
		image = ucv_save_image_path(save_dir, name);
	if (image != NULL && !ucv_save_image_looks_whole(image))
		return ucv_domain_boot_fresh(dom, name, image, error);
	if (virDomainCreate(dom) == 0)
		return ucv_domain_start_result_new(UCV_DOMAIN_START_STARTED, NULL);
	ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot start %s", name);
	/* someone else started it in the meantime */
	if (virDomainIsActive(dom) == 1) {
		g_clear_error(error);
		return ucv_domain_start_result_new(UCV_DOMAIN_START_WAS_RUNNING, NULL);
	}
	/* a whole image whose restore failed all the same (QEMU refused the state) */
	if (image != NULL && g_file_test(image, G_FILE_TEST_EXISTS)) {
		g_clear_error(error);
		return ucv_domain_boot_fresh(dom, name, image, error);
	}
	return NULL;
}

UcvDomainStartResult *
ucv_domain_ops_start(virConnectPtr conn, const gchar *xml, const gchar *save_dir, GError **error)
{
	g_autofree gchar *name = ucv_xml_get_name(xml, error);
	g_autoptr(virDomain) dom = NULL;
	g_autofree gchar *update = NULL;

	if (name == NULL)
		return NULL;
	dom = virDomainLookupByName(conn, name);
	if (dom == NULL && ucv_libvirt_error_code() != VIR_ERR_NO_DOMAIN) {
		ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot look up %s", name);
		return NULL;
	}
	if (dom != NULL && virDomainIsActive(dom) == 1) {
		ucv_domain_log(G_LOG_LEVEL_DEBUG, name, "domain %s is already running", name);
		return ucv_domain_start_result_new(UCV_DOMAIN_START_WAS_RUNNING, NULL);
	}
	update = dom != NULL ? ucv_xml_with_uuid(dom, xml, error) : g_strdup(xml);
	if (update == NULL)
		return NULL;
	return ucv_domain_define_and_create(conn, name, update, save_dir, error);
}

gboolean
ucv_domain_ops_start_existing(virConnectPtr conn, const gchar *name, GError **error)
{
	g_autoptr(virDomain) dom = virDomainLookupByName(conn, name);

	if (dom == NULL) {
		ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot look up %s", name);
		return FALSE;
	}
	if (virDomainIsActive(dom) == 1 || virDomainCreate(dom) == 0)
		return TRUE;
	ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot start %s", name);
	return FALSE;
}

gboolean
ucv_domain_ops_managed_save(virConnectPtr conn, const gchar *name, guint flags, GError **error)
{
	g_autoptr(virDomain) dom = virDomainLookupByName(conn, name);

	if (dom == NULL) {
		ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot look up %s", name);
		return FALSE;
	}
	/* a repeated request after a restart finds the work done */
	if (virDomainIsActive(dom) == 0 && virDomainHasManagedSaveImage(dom, 0) == 1)
		return TRUE;
	if (ucv_save_managed(conn, dom, flags) == 0)
		return TRUE;
	ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot save %s", name);
	return FALSE;
}

int
ucv_domain_ops_open_graphics(virConnectPtr conn, const gchar *name, GError **error)
{
	g_autoptr(virDomain) dom = virDomainLookupByName(conn, name);
	int fd;

	if (dom == NULL) {
		ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot look up %s", name);
		return -1;
	}
	/* libvirt hands over a connected socket: no TCP port, no VNC password to manage */
	fd = virDomainOpenGraphicsFD(dom, 0, VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH);
	if (fd < 0)
		ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot open the display of %s",
				      name);
	return fd;
}

/* The first IPv4 address of the domain's interfaces, from libvirt's DHCP leases: the network is
 * libvirt's, so its dnsmasq knows what it gave out. */
static gchar *
first_ipv4(virDomainInterfacePtr *ifaces, int n)
{
	for (int i = 0; i < n; i++) {
		for (guint j = 0; j < ifaces[i]->naddrs; j++) {
			if (ifaces[i]->addrs[j].type == VIR_IP_ADDR_TYPE_IPV4)
				return g_strdup(ifaces[i]->addrs[j].addr);
		}
	}
	return NULL;
}

gchar *
ucv_domain_ops_get_address(virConnectPtr conn, const gchar *name, GError **error)
{
	g_autoptr(virDomain) dom = virDomainLookupByName(conn, name);
	virDomainInterfacePtr *ifaces = NULL;
	gchar *address = NULL;
	int n;

	if (dom == NULL) {
		ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot look up %s", name);
		return NULL;
	}
	n = virDomainInterfaceAddresses(dom, &ifaces, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0);
	if (n < 0) {
		ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot read the addresses of %s",
				      name);
		return NULL;
	}
	address = first_ipv4(ifaces, n);
	for (int i = 0; i < n; i++)
		virDomainInterfaceFree(ifaces[i]);
	free(ifaces);
	if (address == NULL)
		g_set_error(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE,
			    "%s has no network address yet", name);
	return address;
}

virStreamPtr
ucv_domain_ops_open_console(virConnectPtr conn, const gchar *name, GError **error)
{
	g_autoptr(virDomain) dom = virDomainLookupByName(conn, name);
	virStreamPtr stream;

	if (dom == NULL) {
		ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot look up %s", name);
		return NULL;
	}
	stream = virStreamNew(conn, VIR_STREAM_NONBLOCK);
	if (stream == NULL) {
		ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot make a stream for %s",
				      name);
		return NULL;
	}
	/* no FORCE: an admin's console session is theirs; they can take ours with --force */
	if (virDomainOpenConsole(dom, NULL, stream, 0) == 0)
		return stream;
	if (ucv_libvirt_error_code() == VIR_ERR_OPERATION_FAILED)
		ucv_set_libvirt_error(error, UCV_ERROR_UNAVAILABLE,
				      "the console of %s is in use by another client", name);
	else
		ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot open the console of %s",
				      name);
	virStreamFree(stream);
	return NULL;
}

/* Stopped already or gone already are both fine: removal is idempotent. */
static gboolean
ucv_domain_destroy(virDomainPtr dom, const gchar *name, GError **error)
{
	int code;

	if (virDomainDestroy(dom) == 0)
		return TRUE;
	code = ucv_libvirt_error_code();
	if (code == VIR_ERR_OPERATION_INVALID || code == VIR_ERR_NO_DOMAIN)
		return TRUE;
	ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot destroy %s", name);
	return FALSE;
}

static gboolean
ucv_domain_undefine(virDomainPtr dom, const gchar *name, GError **error)
{
	const guint flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE;
	int code;

	if (virDomainUndefineFlags(dom, flags | VIR_DOMAIN_UNDEFINE_NVRAM) == 0)
		return TRUE;
	code = ucv_libvirt_error_code();
	/* drivers without NVRAM support reject the flag itself */
	if ((code == VIR_ERR_INVALID_ARG || code == VIR_ERR_NO_SUPPORT ||
	     code == VIR_ERR_ARGUMENT_UNSUPPORTED) &&
	    virDomainUndefineFlags(dom, flags) == 0)
		return TRUE;
	code = ucv_libvirt_error_code();
	/* a transient domain vanishes with its destroy */
	if (code == VIR_ERR_NO_DOMAIN)
		return TRUE;
	ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot undefine %s", name);
	return FALSE;
}

gboolean
ucv_domain_ops_remove(virConnectPtr conn, const gchar *name, GError **error)
{
	g_autoptr(virDomain) dom = virDomainLookupByName(conn, name);

	if (dom == NULL) {
		if (ucv_libvirt_error_code() == VIR_ERR_NO_DOMAIN)
			return TRUE;
		ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot look up %s", name);
		return FALSE;
	}
	if (!ucv_domain_destroy(dom, name, error))
		return FALSE;
	return ucv_domain_undefine(dom, name, error);
}
