/* Unit tests for the OCI runtime config.json of a DOCKER job's rank. */
#include "config.h"

#include <string.h>

#include "container/ucv-oci-config.h"
#include "model/ucv-error.h"

#define HOSTILE "'; rm -rf /tmp/x; echo '"

static const UcvOciMount test_mounts[] = {
	{"/mnt/job/work", "/work", FALSE},
	{"/mnt/job/ro-1", "/work/data", TRUE},
};

static UcvOciJob
test_job(void)
{
	UcvOciJob job = {
		.job_id = "4711",
		.rank = 1,
		.replicas = 3,
		.run_as_root = FALSE,
		.memory_bytes = G_GUINT64_CONSTANT(4) * 1000 * 1000 * 1000,
		.hostname = "j4711-1",
		.mounts = test_mounts,
		.n_mounts = G_N_ELEMENTS(test_mounts),
	};
	return job;
}

/* An invocation as ucv_invocation_build returns it; `expand` marks words written "$NAME". */
static UcvInvocation *
make_invocation(const gchar *const *words, const gboolean *expand, const gchar *const *env)
{
	UcvInvocation *inv = g_new0(UcvInvocation, 1);
	guint n = words != NULL ? g_strv_length((gchar **)words) : 0;

	inv->argv = g_strdupv((gchar **)(words != NULL ? words : (const gchar *const[]){NULL}));
	inv->expand = g_new0(gboolean, n + 1);
	for (guint i = 0; expand != NULL && i < n; i++)
		inv->expand[i] = expand[i];
	inv->environment = g_strdupv((gchar **)(env != NULL ? env : (const gchar *const[]){NULL}));
	return inv;
}

static JsonNode *
build(const gchar *image, const UcvInvocation *inv, const UcvOciJob *job)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *json = ucv_oci_config_build(image, inv, job, &error);

	g_assert_no_error(error);
	g_assert_nonnull(json);
	return json_from_string(json, &error);
}

static JsonObject *
member_object(JsonNode *root, const gchar *path)
{
	g_auto(GStrv) parts = g_strsplit(path, ".", -1);
	JsonObject *obj = json_node_get_object(root);

	for (guint i = 0; parts[i] != NULL; i++)
		obj = json_object_get_object_member(obj, parts[i]);
	return obj;
}

/* A member that is an array of strings, as a strv. */
static GStrv
strings(JsonObject *obj, const gchar *name)
{
	JsonArray *array = json_object_get_array_member(obj, name);
	GStrv strv = g_new0(gchar *, json_array_get_length(array) + 1);

	for (guint i = 0; i < json_array_get_length(array); i++)
		strv[i] = g_strdup(json_array_get_string_element(array, i));
	return strv;
}

static GStrv
process_strings(JsonNode *root, const gchar *name)
{
	return strings(member_object(root, "process"), name);
}

static void
assert_strv(GStrv got, const gchar *const *want)
{
	g_assert_cmpuint(g_strv_length(got), ==, g_strv_length((gchar **)want));
	for (guint i = 0; want[i] != NULL; i++)
		g_assert_cmpstr(got[i], ==, want[i]);
}

static gint
env_index(GStrv env, const gchar *entry)
{
	for (guint i = 0; env[i] != NULL; i++) {
		if (g_strcmp0(env[i], entry) == 0)
			return i;
	}
	return -1;
}

static void
test_literal_args(void)
{
	const gchar *const words[] = {"python3", "/work/run.py", "--name", "a b", NULL};
	g_autoptr(UcvInvocation) inv = make_invocation(words, NULL, NULL);
	UcvOciJob job = test_job();
	g_autoptr(JsonNode) root = build(NULL, inv, &job);
	g_auto(GStrv) args = process_strings(root, "args");

	assert_strv(args, words);
	g_assert_cmpstr(json_object_get_string_member(json_node_get_object(root), "ociVersion"), ==,
			"1.0.2");
	g_assert_cmpstr(json_object_get_string_member(member_object(root, "process"), "cwd"), ==,
			"/work");
}

static void
test_shell_args(void)
{
	const gchar *const words[] = {"printf", "%s\\n", HOSTILE, "$UCV_WORD", "it's", NULL};
	const gboolean expand[] = {FALSE, FALSE, FALSE, TRUE, FALSE};
	g_autoptr(UcvInvocation) inv = make_invocation(words, expand, NULL);
	UcvOciJob job = test_job();
	g_autoptr(JsonNode) root = build(NULL, inv, &job);
	g_auto(GStrv) args = process_strings(root, "args");
	g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), "UCV_WORD", "x y; $HOME", TRUE);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out = NULL;
	gint status = -1;

	g_assert_cmpuint(g_strv_length(args), ==, 3);
	g_assert_cmpstr(args[0], ==, "/bin/sh");
	g_assert_cmpstr(args[1], ==, "-c");
	g_assert_true(g_str_has_prefix(args[2], "exec 'printf' "));

	/* the command string, run as crun would, hands every word over literally */
	g_assert_true(g_spawn_sync(NULL, args, envp, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
				   &status, &error));
	g_assert_no_error(error);
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	g_assert_cmpstr(out, ==, HOSTILE "\nx y; $HOME\nit's\n");
}

static void
test_entrypoint_cmd(void)
{
	const gchar *image = "{\"architecture\":\"amd64\",\"config\":{"
			     "\"Entrypoint\":[\"/docker-entrypoint.sh\"],"
			     "\"Cmd\":[\"nginx\",\"-g\",\"daemon off;\"]}}";
	const gchar *const want[] = {"/docker-entrypoint.sh", "nginx", "-g", "daemon off;", NULL};
	const gchar *const cmd_only[] = {"sleep", "1", NULL};
	g_autoptr(UcvInvocation) inv = make_invocation(NULL, NULL, NULL);
	UcvOciJob job = test_job();
	g_autoptr(JsonNode) root = build(image, inv, &job);
	g_autoptr(JsonNode) root2 = build("{\"config\":{\"Entrypoint\":null,\"Cmd\":[\"sleep\","
					  "\"1\"]}}",
					  inv, &job);
	g_auto(GStrv) args = process_strings(root, "args");
	g_auto(GStrv) args2 = process_strings(root2, "args");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *none = ucv_oci_config_build("{\"config\":{}}", inv, &job, &error);

	assert_strv(args, want);
	assert_strv(args2, cmd_only);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_assert_null(none);
}

static void
test_env(void)
{
	const gchar *image =
		"{\"config\":{\"Env\":[\"LANG=C.UTF-8\",\"PATH=/opt/conda/bin:/usr/bin\","
		"\"MODE=image\",\"UCLOUD_RANK=99\"],\"User\":\"1000:1000\","
		"\"WorkingDir\":\"/app\"}}";
	const gchar *const words[] = {"true", NULL};
	const gchar *const env[] = {"MODE=app", "EXTRA=a=b \"c\"", NULL};
	g_autoptr(UcvInvocation) inv = make_invocation(words, NULL, env);
	UcvOciJob job = test_job();
	g_autoptr(JsonNode) root = build(image, inv, &job);
	g_auto(GStrv) got = process_strings(root, "env");
	const gchar *const want[] = {
		"LANG=C.UTF-8",
		"PATH=/opt/conda/bin:/usr/bin",
		"MODE=app",
		"UCLOUD_RANK=1",
		"EXTRA=a=b \"c\"",
		"UCLOUD_JOB_ID=4711",
		"UCLOUD_TASK_COUNT=3",
		"VC_JOB_NUM=3",
		"VK_TASK_INDEX=1",
		"VC_TASK_INDEX=1",
		NULL,
	};
	g_autoptr(UcvInvocation) bare = make_invocation(words, NULL, NULL);
	g_autoptr(JsonNode) root2 = build("{}", bare, &job);
	g_auto(GStrv) got2 = process_strings(root2, "env");
	JsonObject *user = member_object(root, "process.user");

	assert_strv(got, want);
	/* PATH first when the image has none */
	g_assert_cmpstr(got2[0], ==,
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	g_assert_cmpint(env_index(got2, "UCLOUD_RANK=1"), >, 0);
	g_assert_cmpint(env_index(got2, "UCLOUD_JOB_ID=4711"), >, 0);
	/* the image's User is not UCloud's rule */
	g_assert_cmpint(json_object_get_int_member(user, "uid"), ==, 11042);
	g_assert_cmpint(json_object_get_int_member(user, "gid"), ==, 11042);
}

static void
test_user_and_privileges(void)
{
	const gchar *const words[] = {"id", NULL};
	g_autoptr(UcvInvocation) inv = make_invocation(words, NULL, NULL);
	UcvOciJob job = test_job();
	g_autoptr(JsonNode) user_root = build(NULL, inv, &job);
	JsonObject *process = member_object(user_root, "process");
	JsonObject *caps = member_object(user_root, "process.capabilities");
	g_auto(GStrv) bounding = strings(caps, "bounding");
	g_auto(GStrv) effective = strings(caps, "effective");
	g_autoptr(JsonNode) root_root = NULL;
	g_auto(GStrv) root_effective = NULL;
	JsonObject *root_user;
	JsonArray *rlimits = json_object_get_array_member(process, "rlimits");
	JsonObject *nofile = json_array_get_object_element(rlimits, 0);

	g_assert_true(json_object_get_boolean_member(process, "noNewPrivileges"));
	g_assert_false(json_object_get_boolean_member(process, "terminal"));
	g_assert_cmpint(json_object_get_int_member(member_object(user_root, "process.user"), "uid"),
			==, 11042);
	g_assert_false(
		json_object_has_member(member_object(user_root, "process.user"), "additionalGids"));
	g_assert_cmpuint(g_strv_length(bounding), ==, 14);
	g_assert_cmpint(env_index(bounding, "CAP_SYS_ADMIN"), <, 0);
	g_assert_cmpint(env_index(bounding, "CAP_CHOWN"), >=, 0);
	g_assert_cmpuint(g_strv_length(effective), ==, 0);
	g_assert_cmpstr(json_object_get_string_member(nofile, "type"), ==, "RLIMIT_NOFILE");
	g_assert_cmpint(json_object_get_int_member(nofile, "hard"), ==, 1048576);

	job.run_as_root = TRUE;
	root_root = build(NULL, inv, &job);
	root_user = member_object(root_root, "process.user");
	g_assert_cmpint(json_object_get_int_member(root_user, "uid"), ==, 0);
	g_assert_cmpint(json_object_get_int_member(root_user, "gid"), ==, 0);
	root_effective = strings(member_object(root_root, "process.capabilities"), "effective");
	g_assert_cmpuint(g_strv_length(root_effective), ==, 14);
}

static JsonObject *
find_mount(JsonNode *root, const gchar *destination)
{
	JsonArray *mounts = json_object_get_array_member(json_node_get_object(root), "mounts");

	for (guint i = 0; i < json_array_get_length(mounts); i++) {
		JsonObject *m = json_array_get_object_element(mounts, i);
		if (g_strcmp0(json_object_get_string_member(m, "destination"), destination) == 0)
			return m;
	}
	return NULL;
}

static void
test_linux_and_mounts(void)
{
	const gchar *const words[] = {"true", NULL};
	const gchar *const ro_opts[] = {"rbind", "rprivate", "ro", NULL};
	const gchar *const rw_opts[] = {"rbind", "rprivate", NULL};
	g_autoptr(UcvInvocation) inv = make_invocation(words, NULL, NULL);
	UcvOciJob job = test_job();
	g_autoptr(JsonNode) root = build(NULL, inv, &job);
	JsonObject *obj = json_node_get_object(root);
	JsonArray *ns = json_object_get_array_member(json_object_get_object_member(obj, "linux"),
						     "namespaces");
	JsonObject *data = find_mount(root, "/work/data");
	JsonObject *work = find_mount(root, "/work");
	g_auto(GStrv) data_opts = strings(data, "options");
	g_auto(GStrv) work_opts = strings(work, "options");
	g_auto(GStrv) shm_opts = strings(find_mount(root, "/dev/shm"), "options");
	g_auto(GStrv) sys_opts = strings(find_mount(root, "/sys"), "options");
	g_autoptr(JsonNode) root2 = NULL;
	g_auto(GStrv) shm2_opts = NULL;

	g_assert_cmpstr(json_object_get_string_member(obj, "hostname"), ==, "j4711-1");
	g_assert_cmpstr(json_object_get_string_member(member_object(root, "root"), "path"), ==,
			"rootfs");
	g_assert_cmpuint(json_array_get_length(ns), ==, 4);
	for (guint i = 0; i < json_array_get_length(ns); i++) {
		const gchar *type =
			json_object_get_string_member(json_array_get_object_element(ns, i), "type");
		g_assert_cmpstr(type, !=, "network");
	}
	g_assert_false(json_object_has_member(member_object(root, "linux"), "seccomp"));
	g_assert_false(json_object_has_member(member_object(root, "linux"), "cgroupsPath"));
	g_assert_cmpstr(json_object_get_string_member(data, "source"), ==, "/mnt/job/ro-1");
	g_assert_cmpstr(json_object_get_string_member(data, "type"), ==, "bind");
	assert_strv(data_opts, ro_opts);
	assert_strv(work_opts, rw_opts);
	g_assert_cmpint(env_index(shm_opts, "size=4000000000"), >=, 0);
	g_assert_cmpint(env_index(sys_opts, "ro"), >=, 0);
	g_assert_nonnull(find_mount(root, "/proc"));
	g_assert_nonnull(find_mount(root, "/dev/pts"));
	g_assert_nonnull(find_mount(root, "/sys/fs/cgroup"));

	job.memory_bytes = 0;
	job.hostname = NULL;
	root2 = build(NULL, inv, &job);
	shm2_opts = strings(find_mount(root2, "/dev/shm"), "options");
	g_assert_cmpint(env_index(shm2_opts, "size=67108864"), >=, 0);
	g_assert_cmpstr(json_object_get_string_member(json_node_get_object(root2), "hostname"), ==,
			"j4711-1");
}

static void
test_broken_image_config(void)
{
	const gchar *const words[] = {"true", NULL};
	const struct {
		const gchar *json;
		const gchar *member;
	} cases[] = {
		{"{\"config\":{\"Env\":\"PATH=/bin\"}}", "config.Env"},
		{"{\"config\":{\"Env\":[\"A=1\",2]}}", "config.Env"},
		{"{\"config\":{\"Cmd\":{}}}", "config.Cmd"},
		{"{\"config\":{\"Entrypoint\":\"/bin/sh\"}}", "config.Entrypoint"},
		{"{\"config\":{\"User\":1000}}", "config.User"},
		{"{\"config\":{\"WorkingDir\":[]}}", "config.WorkingDir"},
		{"{\"config\":[]}", "config"},
		{"[1]", "object"},
		{"{\"config\":", "image config"},
	};
	g_autoptr(UcvInvocation) inv = make_invocation(words, NULL, NULL);
	UcvOciJob job = test_job();

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *json = ucv_oci_config_build(cases[i].json, inv, &job, &error);

		g_assert_null(json);
		g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
		g_assert_nonnull(strstr(error->message, cases[i].member));
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/oci-config/literal-args", test_literal_args);
	g_test_add_func("/oci-config/shell-args", test_shell_args);
	g_test_add_func("/oci-config/entrypoint-cmd", test_entrypoint_cmd);
	g_test_add_func("/oci-config/env", test_env);
	g_test_add_func("/oci-config/user-and-privileges", test_user_and_privileges);
	g_test_add_func("/oci-config/linux-and-mounts", test_linux_and_mounts);
	g_test_add_func("/oci-config/broken-image-config", test_broken_image_config);
	return g_test_run();
}
