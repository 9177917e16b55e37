/* cloud-init seeds: written with libisofs, read back with isoinfo, parsed with PyYAML when present.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/ucv-error.h"
#include "virt/ucv-seed.h"

/* Real public keys (ssh-keygen -lf prints the fingerprints noted beside them). */
#define KEY_ED25519                                                                                \
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPCDHjcy1iVA4gnRGyUDzPOW/+hLY6IH+yv4fquhkJBx "        \
	"alice@example.org" /* SHA256:MsEhAewAzPlerZOpucq1vpjlybAmDSDHJ+NBqEtHj+A */
#define KEY_ED25519_NO_COMMENT                                                                     \
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPCDHjcy1iVA4gnRGyUDzPOW/+hLY6IH+yv4fquhkJBx"
#define KEY_ECDSA                                                                                  \
	"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBD7dqlzaaiCmq/g/" \
	"r92oJk4O5KJ5zetveuK2V9duYfkz24qVNZtPl7ZXUNxNoTMNtaK0DInakNKidrgth+eRMrQ= bob laptop"
#define KEY_ECDSA_BLOB                                                                             \
	"AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBD7dqlzaaiCmq/g/"                     \
	"r92oJk4O5KJ5zetveuK2V9duYfkz24qVNZtPl7ZXUNxNoTMNtaK0DInakNKidrgth+eRMrQ="

typedef struct {
	gchar *tmpdir;
	gchar *iso;
} Fixture;

static void
fixture_setup(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	fx->tmpdir = g_dir_make_tmp("ucv-seed-XXXXXX", &error);
	g_assert_no_error(error);
	fx->iso = g_build_filename(fx->tmpdir, "seed.iso", NULL);
}

static void
fixture_teardown(Fixture *fx, gconstpointer data)
{
	g_autoptr(GDir) dir = g_dir_open(fx->tmpdir, 0, NULL);
	const gchar *name;

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = g_build_filename(fx->tmpdir, name, NULL);
		g_unlink(path);
	}
	g_rmdir(fx->tmpdir);
	g_free(fx->tmpdir);
	g_free(fx->iso);
}

/* Runs argv with `input` on stdin; returns stdout, or NULL (with *status set) on failure. */
static gchar *
run_capture(const gchar *const *argv, const gchar *input, gint *status)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GBytes) in = input != NULL ? g_bytes_new(input, strlen(input)) : NULL;
	g_autoptr(GBytes) out = NULL;
	GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE;

	if (input != NULL)
		flags |= G_SUBPROCESS_FLAGS_STDIN_PIPE;
	proc = g_subprocess_newv(argv, flags, &error);
	g_assert_no_error(error);
	g_subprocess_communicate(proc, in, NULL, &out, NULL, &error);
	g_assert_no_error(error);
	*status = g_subprocess_get_exit_status(proc);
	if (*status != 0)
		return NULL;
	return g_strndup(g_bytes_get_data(out, NULL), g_bytes_get_size(out));
}

static gchar *
iso_read(const gchar *iso, const gchar *name)
{
	g_autofree gchar *path = g_strconcat("/", name, NULL);
	const gchar *argv[] = {"isoinfo", "-R", "-i", iso, "-x", path, NULL};
	gint status = 0;
	gchar *text = run_capture(argv, NULL, &status);

	g_assert_cmpint(status, ==, 0);
	return text;
}

/* Parses YAML exactly as cloud-init does (PyYAML safe_load); NULL when PyYAML is missing. */
static JsonNode *
yaml_parse(const gchar *text)
{
	const gchar *argv[] = {"/usr/bin/python3", "-c",
			       "import json, sys, yaml\n"
			       "print(json.dumps(yaml.safe_load(sys.stdin.read())))\n",
			       NULL};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *json = NULL;
	gint status = 0;

	if (!g_file_test(argv[0], G_FILE_TEST_IS_EXECUTABLE))
		return NULL;
	json = run_capture(argv, text, &status);
	if (json == NULL)
		return NULL;
	return json_from_string(json, &error);
}

static JsonObject *
yaml_object(JsonNode *node)
{
	g_assert_nonnull(node);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
	return json_node_get_object(node);
}

static gchar *
write_seed(Fixture *fx, const UcvSeedSpec *spec)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(ucv_seed_write(spec, fx->iso, &error));
	g_assert_no_error(error);
	return iso_read(fx->iso, "user-data");
}

static void
test_volume(Fixture *fx, gconstpointer data)
{
	const gchar *keys[] = {KEY_ED25519, NULL};
	UcvSeedSpec spec = {"ucloud-42-0", "j42-0", keys, NULL};
	const gchar *argv[] = {"isoinfo", "-d", "-i", fx->iso, NULL};
	const gchar *list_argv[] = {"isoinfo", "-R", "-l", "-i", fx->iso, NULL};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *info = NULL;
	g_autofree gchar *listing = NULL;
	GStatBuf st;
	gint status = 0;

	g_assert_true(ucv_seed_write(&spec, fx->iso, &error));
	g_assert_no_error(error);
	info = run_capture(argv, NULL, &status);
	g_assert_cmpint(status, ==, 0);
	g_assert_nonnull(strstr(info, "Volume id: cidata\n"));
	g_assert_nonnull(strstr(info, "Rock Ridge signatures version"));
	g_assert_nonnull(strstr(info, "Joliet with UCS level"));
	listing = run_capture(list_argv, NULL, &status);
	g_assert_cmpint(status, ==, 0);
	g_assert_nonnull(strstr(listing, " meta-data"));
	g_assert_nonnull(strstr(listing, " user-data"));
	g_assert_nonnull(strstr(listing, " network-config"));
	g_assert_cmpint(g_stat(fx->iso, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
}

static void
test_meta_and_network(Fixture *fx, gconstpointer data)
{
	UcvSeedSpec spec = {"ucloud-42-1", "j42-1", NULL, NULL};
	g_autofree gchar *user_data = write_seed(fx, &spec);
	g_autofree gchar *meta = iso_read(fx->iso, "meta-data");
	g_autofree gchar *net = iso_read(fx->iso, "network-config");
	g_autoptr(JsonNode) meta_node = NULL;
	g_autoptr(JsonNode) net_node = NULL;
	JsonObject *eth;

	g_assert_cmpstr(meta, ==,
			"# cloud-init NoCloud meta-data, written by ucloud-virt\n"
			"instance-id: \"ucloud-42-1\"\n"
			"local-hostname: \"j42-1\"\n");
	g_assert_nonnull(strstr(net, "version: 2\n"));
	g_assert_nonnull(strstr(net, "name: \"en*\"\n"));
	g_assert_nonnull(strstr(net, "dhcp4: true\n"));
	g_assert_true(g_str_has_prefix(user_data, "#cloud-config\n"));
	g_assert_nonnull(strstr(user_data, "ssh_authorized_keys: []\n"));
	g_assert_null(strstr(user_data, "runcmd"));

	net_node = yaml_parse(net);
	if (net_node == NULL) {
		g_test_message("no PyYAML: structure not checked");
		return;
	}
	meta_node = yaml_parse(meta);
	g_assert_cmpstr(json_object_get_string_member(yaml_object(meta_node), "local-hostname"), ==,
			"j42-1");
	g_assert_cmpint(json_object_get_int_member(yaml_object(net_node), "version"), ==, 2);
	eth = json_object_get_object_member(
		json_object_get_object_member(yaml_object(net_node), "ethernets"), "ucloud-nics");
	g_assert_true(json_object_get_boolean_member(eth, "dhcp4"));
	g_assert_cmpstr(
		json_object_get_string_member(json_object_get_object_member(eth, "match"), "name"),
		==, "en*");
}

static void
test_user_data(Fixture *fx, gconstpointer data)
{
	const gchar *script = "#!/bin/bash\necho \"hello\" > /tmp/hello\n";
	const gchar *keys[] = {KEY_ED25519 "\n", "not a key", KEY_ECDSA, NULL};
	UcvSeedSpec spec = {"ucloud-7-0", "MyHost-7", keys, script};
	g_autofree gchar *user_data = NULL;
	g_autoptr(JsonNode) node = NULL;
	JsonObject *root, *user, *file;
	JsonArray *users, *ssh_keys, *runcmd;
	g_autofree guchar *decoded = NULL;
	gsize decoded_len = 0;

	g_test_expect_message("ucv-virt", G_LOG_LEVEL_WARNING, "skipping SSH key 1 of the seed*");
	user_data = write_seed(fx, &spec);
	g_test_assert_expected_messages();
	g_assert_null(strstr(user_data, "not a key"));
	g_assert_nonnull(strstr(user_data, "sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n"));
	g_assert_nonnull(strstr(user_data, "shell: \"/bin/bash\"\n"));
	g_assert_nonnull(strstr(user_data, "      - \"" KEY_ED25519 "\"\n"));
	g_assert_nonnull(
		strstr(user_data, "runcmd:\n  - [\"/var/lib/ucloud-virt/init-script\"]\n"));
	/* the script is not in the document in the clear */
	g_assert_null(strstr(user_data, "hello"));

	node = yaml_parse(user_data);
	if (node == NULL) {
		g_test_message("no PyYAML: structure not checked");
		return;
	}
	root = yaml_object(node);
	g_assert_cmpstr(json_object_get_string_member(root, "hostname"), ==, "MyHost-7");
	users = json_object_get_array_member(root, "users");
	g_assert_cmpuint(json_array_get_length(users), ==, 1);
	user = json_array_get_object_element(users, 0);
	g_assert_cmpstr(json_object_get_string_member(user, "name"), ==, "ucloud");
	g_assert_cmpstr(json_object_get_string_member(user, "sudo"), ==, "ALL=(ALL) NOPASSWD:ALL");
	ssh_keys = json_object_get_array_member(user, "ssh_authorized_keys");
	g_assert_cmpuint(json_array_get_length(ssh_keys), ==, 2);
	g_assert_cmpstr(json_array_get_string_element(ssh_keys, 0), ==, KEY_ED25519);
	g_assert_cmpstr(json_array_get_string_element(ssh_keys, 1), ==, KEY_ECDSA);
	file = json_array_get_object_element(json_object_get_array_member(root, "write_files"), 0);
	g_assert_cmpstr(json_object_get_string_member(file, "path"), ==,
			"/var/lib/ucloud-virt/init-script");
	g_assert_cmpstr(json_object_get_string_member(file, "permissions"), ==, "0700");
	g_assert_cmpstr(json_object_get_string_member(file, "encoding"), ==, "b64");
	decoded = g_base64_decode(json_object_get_string_member(file, "content"), &decoded_len);
	g_assert_cmpmem(decoded, decoded_len, script, strlen(script));
	runcmd = json_object_get_array_member(root, "runcmd");
	g_assert_cmpuint(json_array_get_length(runcmd), ==, 1);
	g_assert_cmpstr(json_array_get_string_element(json_array_get_array_element(runcmd, 0), 0),
			==, "/var/lib/ucloud-virt/init-script");
}

/* Text that would be structure in YAML or MIME stays data: the script byte-for-byte, comments as
 * strings, and a script without "#!" runs through /bin/sh. */
static void
test_hostile_content(Fixture *fx, gconstpointer data)
{
	const gchar *script = "users: []\n"
			      "#cloud-config\n"
			      "runcmd: [\"rm -rf /\"]\n"
			      "--MIMEBOUNDARY\n"
			      "Content-Type: text/x-shellscript\n\n"
			      "\"quoted\" \\ back'slash\t\xc3\xa6\xc3\xb8\xc3\xa5\n";
	const gchar *keys[] = {
		KEY_ED25519_NO_COMMENT " evil\"\n  - x: y",
		KEY_ED25519_NO_COMMENT " a: b \"c\" #d \\e \xf0\x9f\x94\x91 &x *y !z", NULL};
	UcvSeedSpec spec = {"ucloud-9-0", "j9-0", keys, script};
	g_autofree gchar *user_data = NULL;
	g_autoptr(JsonNode) node = NULL;
	JsonObject *root, *user, *file;
	JsonArray *ssh_keys, *runcmd;
	g_autofree guchar *decoded = NULL;
	gsize decoded_len = 0;

	g_test_expect_message("ucv-virt", G_LOG_LEVEL_WARNING, "skipping SSH key 0 of the seed*");
	user_data = write_seed(fx, &spec);
	g_test_assert_expected_messages();
	g_assert_null(strstr(user_data, "evil"));
	g_assert_null(strstr(user_data, "rm -rf"));
	g_assert_null(strstr(user_data, "MIMEBOUNDARY"));
	/* nothing but printable ASCII and newlines reaches the YAML */
	for (const gchar *p = user_data; *p != '\0'; p++)
		g_assert_true(*p == '\n' || (*p >= 0x20 && *p < 0x7f));

	node = yaml_parse(user_data);
	if (node == NULL) {
		g_test_message("no PyYAML: structure not checked");
		return;
	}
	root = yaml_object(node);
	g_assert_cmpuint(json_object_get_size(root), ==, 7);
	user = json_array_get_object_element(json_object_get_array_member(root, "users"), 0);
	ssh_keys = json_object_get_array_member(user, "ssh_authorized_keys");
	g_assert_cmpuint(json_array_get_length(ssh_keys), ==, 1);
	g_assert_cmpstr(json_array_get_string_element(ssh_keys, 0), ==, keys[1]);
	file = json_array_get_object_element(json_object_get_array_member(root, "write_files"), 0);
	decoded = g_base64_decode(json_object_get_string_member(file, "content"), &decoded_len);
	g_assert_cmpmem(decoded, decoded_len, script, strlen(script));
	runcmd = json_array_get_array_element(json_object_get_array_member(root, "runcmd"), 0);
	g_assert_cmpstr(json_array_get_string_element(runcmd, 0), ==, "/bin/sh");
	g_assert_cmpstr(json_array_get_string_element(runcmd, 1), ==,
			"/var/lib/ucloud-virt/init-script");
}

static void
test_bad_spec(Fixture *fx, gconstpointer data)
{
	const gchar *hostnames[] = {
		"j1-0\nlocal-hostname: evil", "a: b",        "",      "-a", "a-",
		"host.example.org",           "h\xc3\xa6st", "\"j1\""};
	const gchar *instance_ids[] = {"", "ucloud 1", "ucloud-1\ninstance-id: x", "\"x\""};

	for (guint i = 0; i < G_N_ELEMENTS(hostnames); i++) {
		UcvSeedSpec spec = {"ucloud-1-0", hostnames[i], NULL, NULL};
		g_autoptr(GError) error = NULL;
		g_assert_false(ucv_seed_write(&spec, fx->iso, &error));
		g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	}
	for (guint i = 0; i < G_N_ELEMENTS(instance_ids); i++) {
		UcvSeedSpec spec = {instance_ids[i], "j1-0", NULL, NULL};
		g_autoptr(GError) error = NULL;
		g_assert_false(ucv_seed_write(&spec, fx->iso, &error));
		g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	}
	g_assert_false(g_file_test(fx->iso, G_FILE_TEST_EXISTS));
}

static void
test_hostnames(void)
{
	g_autofree gchar *long_label = g_strnfill(63, 'a');
	g_autofree gchar *too_long = g_strnfill(64, 'a');

	g_assert_true(ucv_seed_hostname_is_valid("j123-0"));
	g_assert_true(ucv_seed_hostname_is_valid("A"));
	g_assert_true(ucv_seed_hostname_is_valid("0abc"));
	g_assert_true(ucv_seed_hostname_is_valid(long_label));
	g_assert_false(ucv_seed_hostname_is_valid(too_long));
	g_assert_false(ucv_seed_hostname_is_valid(NULL));
	g_assert_false(ucv_seed_hostname_is_valid("a_b"));
	g_assert_false(ucv_seed_hostname_is_valid("a b"));
}

static void
assert_key(const gchar *key, const gchar *expected)
{
	g_autofree gchar *normal = ucv_seed_normalize_ssh_key(key);

	g_assert_cmpstr(normal, ==, expected);
}

static void
test_keys(void)
{
	assert_key(KEY_ED25519, KEY_ED25519);
	assert_key("  " KEY_ED25519 "\r\n", KEY_ED25519);
	assert_key(KEY_ED25519_NO_COMMENT, KEY_ED25519_NO_COMMENT);
	assert_key("ecdsa-sha2-nistp256\t" KEY_ECDSA_BLOB "\t bob laptop", KEY_ECDSA);
	/* the blob names another type */
	assert_key("ssh-rsa " KEY_ECDSA_BLOB, NULL);
	assert_key("sk-ssh-ed25519@openssh.com " KEY_ECDSA_BLOB, NULL);
	/* authorized_keys options, other types, broken blobs, extra lines */
	assert_key("command=\"/bin/evil\" " KEY_ED25519, NULL);
	assert_key("rsa-sha2-512 " KEY_ECDSA_BLOB, NULL);
	assert_key("ssh-ed25519", NULL);
	assert_key("ssh-ed25519 AAAA", NULL);
	assert_key(
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPCDHjcy1iVA4gnRGyUDzPOW/+hLY6IH+yv4fquhkJB$",
		NULL);
	assert_key(KEY_ED25519_NO_COMMENT "\n" KEY_ECDSA, NULL);
	assert_key(KEY_ED25519_NO_COMMENT " a\rb", NULL);
	assert_key(KEY_ED25519_NO_COMMENT " a\xc2\x85"
					  "b",
		   NULL);
	assert_key(KEY_ED25519_NO_COMMENT " a\xe2\x80\xa8"
					  "b",
		   NULL);
	assert_key(KEY_ED25519_NO_COMMENT " \xff", NULL);
	assert_key("", NULL);
	assert_key(NULL, NULL);
}

/* A second write replaces the first through a temporary file and leaves nothing else behind. */
static void
test_replace(Fixture *fx, gconstpointer data)
{
	UcvSeedSpec first = {"ucloud-5-0", "j5-0", NULL, NULL};
	UcvSeedSpec second = {"ucloud-5-0", "renamed", NULL, NULL};
	g_autofree gchar *ud1 = write_seed(fx, &first);
	g_autofree gchar *ud2 = write_seed(fx, &second);
	g_autofree gchar *meta = iso_read(fx->iso, "meta-data");
	g_autoptr(GDir) dir = g_dir_open(fx->tmpdir, 0, NULL);
	guint n = 0;

	g_assert_nonnull(strstr(meta, "local-hostname: \"renamed\"\n"));
	while (g_dir_read_name(dir) != NULL)
		n++;
	g_assert_cmpuint(n, ==, 1);
}

static void
on_written(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GAsyncResult **slot = user_data;

	*slot = g_object_ref(res);
}

static void
test_async(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *hostname = g_strdup("j6-0");
	const gchar *keys[] = {KEY_ED25519, NULL};
	UcvSeedSpec spec = {"ucloud-6-0", hostname, keys, "echo hi\n"};
	g_autoptr(GAsyncResult) result = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *meta = NULL;

	ucv_seed_write_async(&spec, fx->iso, NULL, on_written, &result);
	/* the spec is copied at the call */
	hostname[0] = 'X';
	while (result == NULL)
		g_main_context_iteration(NULL, TRUE);
	g_assert_true(ucv_seed_write_finish(result, &error));
	g_assert_no_error(error);
	meta = iso_read(fx->iso, "meta-data");
	g_assert_nonnull(strstr(meta, "local-hostname: \"j6-0\"\n"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/seed/hostnames", test_hostnames);
	g_test_add_func("/seed/keys", test_keys);
	g_test_add("/seed/volume", Fixture, NULL, fixture_setup, test_volume, fixture_teardown);
	g_test_add("/seed/meta-and-network", Fixture, NULL, fixture_setup, test_meta_and_network,
		   fixture_teardown);
	g_test_add("/seed/user-data", Fixture, NULL, fixture_setup, test_user_data,
		   fixture_teardown);
	g_test_add("/seed/hostile-content", Fixture, NULL, fixture_setup, test_hostile_content,
		   fixture_teardown);
	g_test_add("/seed/bad-spec", Fixture, NULL, fixture_setup, test_bad_spec, fixture_teardown);
	g_test_add("/seed/replace", Fixture, NULL, fixture_setup, test_replace, fixture_teardown);
	g_test_add("/seed/async", Fixture, NULL, fixture_setup, test_async, fixture_teardown);
	return g_test_run();
}
