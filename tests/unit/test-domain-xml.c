/* Domain XML rendering: golden files, escaping of hostile text, libvirt's own parser. */
#include "config.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "model/ucv-error.h"
#include "virt/ucv-domain-metadata.h"
#include "virt/ucv-domain-xml.h"

#define HOSTILE "x</title><devices><disk>'\"&]]>"

static const UcvDomainSpec basic_spec = {
	.name = "ucloud-4242-0",
	.title = "UCloud job 4242 rank 0: My VM (u1-standard-2) for alice#1234",
	.domain_type = "qemu",
	.vcpus = 2,
	.memory_mib = 2048,
	.disk_path = "/var/lib/ucloud-virt/jobs/4242/0/disk.qcow2",
	.disk_format = "qcow2",
	.console_log = "/var/lib/ucloud-virt/jobs/4242/0/console.log",
	.vnc_socket = "/var/lib/ucloud-virt/jobs/4242/0/vnc.sock",
	.network = NULL,
	.job_id = "4242",
	.rank = 0,
	.owner = "alice#1234",
	.project = NULL,
	.product = "u1-standard-2",
	.application = "ubuntu@22.04",
};

static const UcvDomainSpec network_spec = {
	.name = "ucloud-4243-1",
	.title = "UCloud job 4243 rank 1: cluster (u1-standard-4) for bob#1",
	.domain_type = "qemu",
	.vcpus = 4,
	.memory_mib = 4096,
	.disk_path = "/var/lib/ucloud-virt/jobs/4243/1/disk.qcow2",
	.disk_format = "qcow2",
	.console_log = "/var/lib/ucloud-virt/jobs/4243/1/console.log",
	.vnc_socket = "/var/lib/ucloud-virt/jobs/4243/1/vnc.sock",
	.seed_path = "/var/lib/ucloud-virt/jobs/4243/seed-1.iso",
	.network = "ucloud-jobs",
	.job_id = "4243",
	.rank = 1,
	.owner = "bob#1",
	.project = "project-17",
	.product = "u1-standard-4",
	.application = "debian@12",
};

static const UcvDomainSpec container_spec = {
	.name = "ucloud-4250-0",
	.title = "UCloud job 4250 rank 0: batch (u1-standard-2) for dave#3",
	.domain_type = "qemu",
	.vcpus = 2,
	.memory_mib = 2048,
	.disk_path = "/var/lib/ucloud-virt/container-images/sha256-4f0c.erofs",
	.console_log = "/var/lib/ucloud-virt/jobs/4250/console-0.log",
	.network = "ucloud-jobs",
	.job_id = "4250",
	.rank = 0,
	.owner = "dave#3",
	.project = "project-9",
	.product = "u1-standard-2",
	.application = "acme-batch@1.0.0",
	.kernel = "/usr/lib/ucloud-virt/container-host/vmlinuz",
	.initrd = "/usr/lib/ucloud-virt/container-host/initrd.img",
	.config_file = "/var/lib/ucloud-virt/jobs/4250/config-0.json",
	.agent_socket = "/var/lib/ucloud-virt/jobs/4250/agent-0.sock",
	.share_dir = "/var/lib/ucloud-virt/jobs/4250/share",
	.image_digest = "sha256:4f0c",
};

static const gchar *const gpu_devices[] = {"0000:3b:00.0", "0001:af:1f.7", NULL};

static const UcvDomainSpec gpu_spec = {
	.name = "ucloud-4245-0",
	.title = "UCloud job 4245 rank 0: training (u1-gpu-2) for carol#7",
	.domain_type = "qemu",
	.vcpus = 8,
	.memory_mib = 32768,
	.disk_path = "/var/lib/ucloud-virt/jobs/4245/0/disk.qcow2",
	.disk_format = "qcow2",
	.console_log = "/var/lib/ucloud-virt/jobs/4245/0/console.log",
	.vnc_socket = "/var/lib/ucloud-virt/jobs/4245/0/vnc.sock",
	.gpu_devices = gpu_devices,
	.job_id = "4245",
	.rank = 0,
	.owner = "carol#7",
	.project = NULL,
	.product = "u1-gpu-2",
	.application = "cuda@12",
};

static const UcvDomainSpec hostile_spec = {
	.name = "ucloud-4244-0",
	.title = "title " HOSTILE "\nsecond line",
	.domain_type = "qemu",
	.vcpus = 1,
	.memory_mib = 512,
	.disk_path = "/var/lib/ucloud-virt/jobs/4244/0/disk.qcow2",
	.disk_format = "qcow2",
	.console_log = "/var/lib/ucloud-virt/jobs/4244/0/console.log",
	.vnc_socket = "/var/lib/ucloud-virt/jobs/4244/0/vnc.sock",
	.network = "net&'\"<>",
	.job_id = "4244",
	.rank = 0,
	.owner = "owner " HOSTILE,
	.project = "project " HOSTILE,
	.product = "product " HOSTILE,
	.application = "app " HOSTILE "@1",
};

/* Collects what a reader of the XML would see, to prove the structure survived. */
typedef struct {
	GPtrArray *stack;
	GHashTable *texts; /* element path -> text */
	guint n_disks;
	guint n_interfaces;
	gchar *network;
} XmlFacts;

static void
xml_facts_clear(XmlFacts *facts)
{
	g_clear_pointer(&facts->stack, g_ptr_array_unref);
	g_clear_pointer(&facts->texts, g_hash_table_unref);
	g_clear_pointer(&facts->network, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(XmlFacts, xml_facts_clear)

static gchar *
xml_facts_path(XmlFacts *facts)
{
	g_autoptr(GString) path = g_string_new(NULL);

	for (guint i = 0; i < facts->stack->len; i++) {
		g_string_append_c(path, '/');
		g_string_append(path, g_ptr_array_index(facts->stack, i));
	}
	return g_string_free(g_steal_pointer(&path), FALSE);
}

static void
xml_start(GMarkupParseContext *context, const gchar *element, const gchar **names,
	  const gchar **values, gpointer user_data, GError **error)
{
	XmlFacts *facts = user_data;

	g_ptr_array_add(facts->stack, g_strdup(element));
	if (g_strcmp0(element, "disk") == 0)
		facts->n_disks++;
	if (g_strcmp0(element, "interface") == 0)
		facts->n_interfaces++;
	for (guint i = 0; names[i] != NULL; i++) {
		if (g_strcmp0(element, "source") == 0 && g_strcmp0(names[i], "network") == 0)
			facts->network = g_strdup(values[i]);
	}
}

static void
xml_end(GMarkupParseContext *context, const gchar *element, gpointer user_data, GError **error)
{
	XmlFacts *facts = user_data;

	g_ptr_array_remove_index(facts->stack, facts->stack->len - 1);
}

static void
xml_text(GMarkupParseContext *context, const gchar *text, gsize len, gpointer user_data,
	 GError **error)
{
	XmlFacts *facts = user_data;
	g_autofree gchar *path = xml_facts_path(facts);
	const gchar *old = g_hash_table_lookup(facts->texts, path);

	g_hash_table_insert(facts->texts, g_steal_pointer(&path),
			    g_strconcat(old != NULL ? old : "", text, NULL));
}

static void
parse_xml(const gchar *xml, XmlFacts *facts)
{
	const GMarkupParser parser = {xml_start, xml_end, xml_text, NULL, NULL};
	g_autoptr(GMarkupParseContext) context = NULL;
	g_autoptr(GError) error = NULL;

	facts->stack = g_ptr_array_new_with_free_func(g_free);
	facts->texts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	context = g_markup_parse_context_new(&parser, G_MARKUP_TREAT_CDATA_AS_TEXT, facts, NULL);
	g_markup_parse_context_parse(context, xml, -1, &error);
	g_assert_no_error(error);
	g_markup_parse_context_end_parse(context, &error);
	g_assert_no_error(error);
}

static const gchar *
fact(XmlFacts *facts, const gchar *path)
{
	return g_hash_table_lookup(facts->texts, path);
}

static void
define_in_test_driver(const gchar *xml, const UcvDomainSpec *spec)
{
	virConnectPtr conn = virConnectOpen("test:///default");
	virDomainPtr dom;
	g_autofree gchar *metadata = NULL;
	g_autofree gchar *id = NULL;

	g_assert_nonnull(conn);
	dom = virDomainDefineXML(conn, xml);
	if (dom == NULL)
		g_error("libvirt refused the XML: %s", virGetLastError()->message);
	metadata =
		virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, UCV_DOMAIN_METADATA_URI, 0);
	g_assert_nonnull(metadata);
	id = g_strdup_printf("<id>%s</id>", spec->job_id);
	g_assert_nonnull(strstr(metadata, id));
	g_assert_cmpint(virDomainUndefine(dom), ==, 0);
	virDomainFree(dom);
	virConnectClose(conn);
}

static gchar *
golden_path(const gchar *name)
{
	return g_test_build_filename(G_TEST_DIST, "golden", name, NULL);
}

static void
check_golden(const UcvDomainSpec *spec, const gchar *golden)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *xml = ucv_domain_xml_render(spec, &error);
	g_autofree gchar *path = golden_path(golden);
	g_autofree gchar *expected = NULL;

	g_assert_no_error(error);
	g_assert_nonnull(xml);
	if (g_getenv("UCV_UPDATE_GOLDEN") != NULL) {
		g_file_set_contents(path, xml, -1, &error);
		g_assert_no_error(error);
	}
	g_file_get_contents(path, &expected, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(xml, ==, expected);
	define_in_test_driver(xml, spec);
}

static void
test_basic(void)
{
	g_auto(XmlFacts) facts = {0};
	g_autofree gchar *xml = ucv_domain_xml_render(&basic_spec, NULL);

	check_golden(&basic_spec, "vm-basic.xml");
	parse_xml(xml, &facts);
	g_assert_cmpuint(facts.n_disks, ==, 1);
	g_assert_cmpuint(facts.n_interfaces, ==, 0);
	g_assert_cmpstr(fact(&facts, "/domain/name"), ==, "ucloud-4242-0");
	g_assert_cmpstr(fact(&facts, "/domain/memory"), ==, "2048");
	g_assert_cmpstr(fact(&facts, "/domain/vcpu"), ==, "2");
	g_assert_cmpstr(fact(&facts, "/domain/metadata/ucv:job/ucv:rank"), ==, "0");
	g_assert_null(strstr(xml, "<cpu"));
	g_assert_null(strstr(xml, "\n\n"));
}

static void
test_network(void)
{
	g_auto(XmlFacts) facts = {0};
	g_autofree gchar *xml = ucv_domain_xml_render(&network_spec, NULL);

	check_golden(&network_spec, "vm-network.xml");
	parse_xml(xml, &facts);
	g_assert_cmpuint(facts.n_interfaces, ==, 1);
	g_assert_cmpstr(facts.network, ==, "ucloud-jobs");
	g_assert_cmpstr(fact(&facts, "/domain/metadata/ucv:job/ucv:project"), ==, "project-17");
	g_assert_cmpstr(fact(&facts, "/domain/metadata/ucv:job/ucv:rank"), ==, "1");
}

/* The metadata element of a rendered domain, as libvirt would hand it back, read by the parser
 * the daemon uses after a restart. */
static void
assert_metadata_gpus(const gchar *xml, const gchar *expected)
{
	const gchar *start = strstr(xml, "<ucv:job");
	const gchar *end = strstr(xml, "</ucv:job>");
	g_autofree gchar *element = NULL;
	g_autofree gchar *job_id = NULL;
	g_auto(GStrv) gpus = NULL;
	g_autofree gchar *joined = NULL;
	g_autoptr(GError) error = NULL;
	guint rank = 0;

	g_assert_nonnull(start);
	g_assert_nonnull(end);
	element = g_strndup(start, end + strlen("</ucv:job>") - start);
	g_assert_true(ucv_domain_metadata_parse(element, &job_id, &rank, &gpus, &error));
	g_assert_no_error(error);
	joined = g_strjoinv(",", gpus);
	g_assert_cmpstr(joined, ==, expected);
}

/* GPUs: one managed PCI <hostdev> per address, numbers only; anything else is refused. */
static void
test_gpu(void)
{
	const gchar *const bad[] = {"0000:3b:00.0'/><disk", "0000:3b:20.0", "3b:00.0", NULL};
	g_autofree gchar *xml = ucv_domain_xml_render(&gpu_spec, NULL);
	g_autofree gchar *plain = ucv_domain_xml_render(&basic_spec, NULL);

	check_golden(&gpu_spec, "vm-gpu.xml");
	g_assert_nonnull(strstr(xml, "<hostdev mode='subsystem' type='pci' managed='yes'>"));
	g_assert_nonnull(strstr(xml, "<address domain='0x0001' bus='0xaf' slot='0x1f' "
				     "function='0x7'/>"));
	g_assert_null(strstr(plain, "hostdev"));
	assert_metadata_gpus(xml, "0000:3b:00.0,0001:af:1f.7");
	assert_metadata_gpus(plain, "");
	for (guint i = 0; bad[i] != NULL; i++) {
		const gchar *devices[] = {bad[i], NULL};
		UcvDomainSpec spec = gpu_spec;
		g_autoptr(GError) error = NULL;
		g_autofree gchar *refused = NULL;

		spec.gpu_devices = devices;
		refused = ucv_domain_xml_render(&spec, &error);
		g_assert_null(refused);
		g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	}
}

/* A container host boots the agent directly, reads its image read-only and never relabels the
 * shared file, gets its config by fw_cfg, its folders by virtiofs and its channel on a socket. */
static void
test_container_host(void)
{
	g_auto(XmlFacts) facts = {0};
	g_autofree gchar *xml = ucv_domain_xml_render(&container_spec, NULL);
	UcvDomainSpec hostile = container_spec;
	UcvDomainSpec incomplete = container_spec;
	g_autofree gchar *escaped = NULL;
	g_autoptr(GError) error = NULL;

	check_golden(&container_spec, "container-host.xml");
	parse_xml(xml, &facts);
	g_assert_cmpuint(facts.n_disks, ==, 1);
	g_assert_cmpuint(facts.n_interfaces, ==, 1);
	g_assert_cmpstr(fact(&facts, "/domain/os/kernel"), ==, container_spec.kernel);
	g_assert_cmpstr(fact(&facts, "/domain/metadata/ucv:job/ucv:image"), ==, "sha256:4f0c");
	g_assert_nonnull(strstr(xml, "<seclabel model='dac' relabel='no'/>"));
	g_assert_nonnull(strstr(xml, "<readonly/>"));
	g_assert_nonnull(strstr(xml, "<access mode='shared'/>"));
	g_assert_null(strstr(xml, "<graphics"));

	hostile.share_dir = "/srv/x'/><source dir='/";
	escaped = ucv_domain_xml_render(&hostile, &error);
	g_assert_no_error(error);
	g_assert_nonnull(
		strstr(escaped, "<source dir='/srv/x&apos;/&gt;&lt;source dir=&apos;/'/>"));

	incomplete.agent_socket = NULL;
	g_assert_null(ucv_domain_xml_render(&incomplete, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
}

static void
test_hostile(void)
{
	g_auto(XmlFacts) facts = {0};
	g_autofree gchar *xml = ucv_domain_xml_render(&hostile_spec, NULL);

	check_golden(&hostile_spec, "vm-hostile.xml");
	g_assert_null(strstr(xml, "</title><devices>"));
	g_assert_null(strstr(xml, "]]>"));
	g_assert_null(strstr(xml, "'\""));
	g_assert_nonnull(
		strstr(xml, "&lt;/title&gt;&lt;devices&gt;&lt;disk&gt;&apos;&quot;&amp;]]&gt;"));

	parse_xml(xml, &facts);
	g_assert_cmpuint(facts.n_disks, ==, 1);
	g_assert_cmpuint(facts.n_interfaces, ==, 1);
	g_assert_cmpstr(facts.network, ==, hostile_spec.network);
	g_assert_cmpstr(fact(&facts, "/domain/title"), ==, "title " HOSTILE " second line");
	g_assert_cmpstr(fact(&facts, "/domain/metadata/ucv:job/ucv:owner"), ==, hostile_spec.owner);
	g_assert_cmpstr(fact(&facts, "/domain/metadata/ucv:job/ucv:application"), ==,
			hostile_spec.application);
}

static void
test_control_characters(void)
{
	UcvDomainSpec spec = basic_spec;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *xml = NULL;
	g_autofree gchar *bad_path = NULL;
	g_autofree gchar *owner = NULL;
	g_auto(XmlFacts) facts = {0};

	spec.owner = "tab\there\x01 and \xff invalid";
	xml = ucv_domain_xml_render(&spec, &error);
	g_assert_no_error(error);
	parse_xml(xml, &facts);
	owner = g_strdup(fact(&facts, "/domain/metadata/ucv:job/ucv:owner"));
	g_assert_cmpstr(owner, ==, "tab here  and \xef\xbf\xbd invalid");

	spec.owner = basic_spec.owner;
	spec.disk_path = "/tmp/a\nb";
	bad_path = ucv_domain_xml_render(&spec, &error);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_assert_null(bad_path);
}

static void
expect_invalid(const UcvDomainSpec *spec)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *xml = ucv_domain_xml_render(spec, &error);

	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_assert_null(xml);
}

static void
test_invalid(void)
{
	UcvDomainSpec spec;

	spec = basic_spec;
	spec.vcpus = 0;
	expect_invalid(&spec);
	spec = basic_spec;
	spec.memory_mib = 0;
	expect_invalid(&spec);
	spec = basic_spec;
	spec.name = NULL;
	expect_invalid(&spec);
	spec = basic_spec;
	spec.job_id = "";
	expect_invalid(&spec);
	spec = basic_spec;
	spec.disk_path = NULL;
	expect_invalid(&spec);
	spec = basic_spec;
	spec.vnc_socket = NULL;
	expect_invalid(&spec);
	spec = basic_spec;
	spec.owner = NULL;
	expect_invalid(&spec);
	spec = basic_spec;
	spec.title = NULL;
	expect_invalid(&spec);
}

static void
test_name_for(void)
{
	g_autofree gchar *name = ucv_domain_name_for("4242", 3);

	g_assert_cmpstr(name, ==, "ucloud-4242-3");
}

static void
quiet_libvirt(void *user_data, virErrorPtr error)
{
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	virSetErrorFunc(NULL, quiet_libvirt);

	g_test_add_func("/domain-xml/basic", test_basic);
	g_test_add_func("/domain-xml/network", test_network);
	g_test_add_func("/domain-xml/gpu", test_gpu);
	g_test_add_func("/domain-xml/hostile", test_hostile);
	g_test_add_func("/domain-xml/container-host", test_container_host);
	g_test_add_func("/domain-xml/control-characters", test_control_characters);
	g_test_add_func("/domain-xml/invalid", test_invalid);
	g_test_add_func("/domain-xml/name-for", test_name_for);
	return g_test_run();
}
