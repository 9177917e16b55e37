/* The OCI runtime config.json for one rank of a DOCKER job: UCloud's rules for users,
 * environment and /dev/shm, Docker's defaults for everything a container runtime decides. */
#define G_LOG_DOMAIN "ucv-container"

#include "config.h"

#include "ucv-oci-config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "model/ucv-error.h"
#include "model/ucv-json.h"

/* UCloud's user (filesystem.DefaultUid in UCloud's provider, the owner of job files; its own
 * images run as it, and its pods refuse root unless runAsRoot); no supplementary groups, as
 * UCloud's pods set none. */

#define DEFAULT_PATH  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_SHM   (64 * 1024 * 1024)
#define NOFILE_LIMIT  1048576
#define OCI_VERSION   "1.0.2"
#define CONTAINER_CWD "/work"

/* Docker's default capability set (moby oci/caps.DefaultCapabilities). */
static const gchar *const default_caps[] = {
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FSETID",
	"CAP_FOWNER",
	"CAP_MKNOD",
	"CAP_NET_RAW",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETFCAP",
	"CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT",
	"CAP_KILL",
	"CAP_AUDIT_WRITE",
	NULL,
};

/* Docker's default masked and read-only paths. */
static const gchar *const masked_paths[] = {
	"/proc/asound",
	"/proc/acpi",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/sys/firmware",
	"/sys/devices/virtual/powercap",
	NULL,
};
static const gchar *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

/* What the image's config contributes; the strv are borrowed from `root`. */
typedef struct {
	JsonNode *root;
	GStrv env;
	GStrv entrypoint;
	GStrv cmd;
} UcvImageConfig;

static void
ucv_image_config_clear(UcvImageConfig *self)
{
	g_clear_pointer(&self->env, g_free);
	g_clear_pointer(&self->entrypoint, g_free);
	g_clear_pointer(&self->cmd, g_free);
	g_clear_pointer(&self->root, json_node_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(UcvImageConfig, ucv_image_config_clear)

static gboolean
is_string(JsonNode *node)
{
	return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING;
}

/* An array of strings as a NULL-terminated array of borrowed strings; absent or null: NULL. */
static gboolean
read_string_array(JsonObject *obj, const gchar *name, GStrv *out, GError **error)
{
	JsonNode *node = ucv_json_member(obj, name);
	g_autofree gchar **strv = NULL;
	JsonArray *array;
	guint n;

	*out = NULL;
	if (node == NULL)
		return TRUE;
	array = JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;
	n = array != NULL ? json_array_get_length(array) : 0;
	strv = g_new0(gchar *, n + 1);
	for (guint i = 0; i < n && strv != NULL; i++) {
		JsonNode *item = json_array_get_element(array, i);
		if (!is_string(item))
			g_clear_pointer(&strv, g_free);
		else
			strv[i] = (gchar *)json_node_get_string(item);
	}
	if (array == NULL || strv == NULL) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    "image config: config.%s must be an array of strings", name);
		return FALSE;
	}
	*out = g_steal_pointer(&strv);
	return TRUE;
}

static gboolean
check_string(JsonObject *obj, const gchar *name, GError **error)
{
	JsonNode *node = ucv_json_member(obj, name);

	if (node == NULL || is_string(node))
		return TRUE;
	g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "image config: config.%s must be a string",
		    name);
	return FALSE;
}

static gboolean
image_config_parse(const gchar *json, UcvImageConfig *out, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) local = NULL;
	JsonObject *config = NULL;
	JsonNode *root;

	if (json == NULL || *json == '\0')
		return TRUE;
	if (!json_parser_load_from_data(parser, json, -1, &local)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "image config: %s",
			    local->message);
		return FALSE;
	}
	root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    "image config: not a JSON object");
		return FALSE;
	}
	out->root = json_node_ref(root);
	if (!ucv_json_read_object(json_node_get_object(out->root), "config", &config,
				  UCV_ERROR_INVALID, error)) {
		g_prefix_error(error, "image config: ");
		return FALSE;
	}
	/* WorkingDir and User are checked but not used: the job runs in /work as UCloud's user (or
	 * root), whatever user ("1000:1000", "app") the image names. */
	if (!check_string(config, "WorkingDir", error) || !check_string(config, "User", error))
		return FALSE;
	if (!read_string_array(config, "Env", &out->env, error) ||
	    !read_string_array(config, "Entrypoint", &out->entrypoint, error) ||
	    !read_string_array(config, "Cmd", &out->cmd, error))
		return FALSE;

	/* success */
	return TRUE;
}

/* Sets NAME=value, replacing an earlier value of NAME where it stood (as Docker merges). */
static void
env_set(GPtrArray *env, const gchar *entry)
{
	const gchar *eq = strchr(entry, '=');
	gsize len;

	if (eq == NULL || eq == entry)
		return;
	len = eq - entry + 1;
	for (guint i = 0; i < env->len; i++) {
		const gchar *old = g_ptr_array_index(env, i);
		if (strncmp(old, entry, len) == 0) {
			g_free(env->pdata[i]);
			env->pdata[i] = g_strdup(entry);
			return;
		}
	}
	g_ptr_array_add(env, g_strdup(entry));
}

static void
env_set_value(GPtrArray *env, const gchar *name, const gchar *value)
{
	g_autofree gchar *entry = g_strdup_printf("%s=%s", name, value);
	env_set(env, entry);
}

/* UCloud's variables for container jobs (prepareInvocationOnJobCreate in UCloud's provider).
 * Left out, as they have no meaning here: UCLOUD_METRICS_SAMPLE_INTERVAL (for UCloud's ucmetrics,
 * not in the image), UCLOUD_OPEN_WITH_FILE, UCLOUD_BASE_URL/BASE_URL and UCLOUD_URL_IS_PUBLIC (they
 * describe the job's opened file and public links, which are not among this function's inputs),
 * the UCLOUD_INFERENCE_* and public-IP variables (Kubernetes-site services). */
static void
env_add_ucloud(GPtrArray *env, const UcvOciJob *job)
{
	g_autofree gchar *rank = g_strdup_printf("%u", job->rank);
	g_autofree gchar *replicas = g_strdup_printf("%u", MAX(job->replicas, 1));

	env_set_value(env, "UCLOUD_JOB_ID", job->job_id);
	/* the number of ranks (the job's replicas), under UCloud's name and Volcano's */
	env_set_value(env, "UCLOUD_TASK_COUNT", replicas);
	env_set_value(env, "VC_JOB_NUM", replicas);
	env_set_value(env, "VK_TASK_INDEX", rank);
	env_set_value(env, "VC_TASK_INDEX", rank);
	env_set_value(env, "UCLOUD_RANK", rank);
}

static GPtrArray *
env_build(const UcvImageConfig *image, const UcvInvocation *invocation, const UcvOciJob *job)
{
	GPtrArray *env = g_ptr_array_new_with_free_func(g_free);
	gboolean has_path = FALSE;

	for (guint i = 0; image->env != NULL && image->env[i] != NULL; i++)
		has_path |= g_str_has_prefix(image->env[i], "PATH=");
	if (!has_path)
		env_set(env, "PATH=" DEFAULT_PATH);
	for (guint i = 0; image->env != NULL && image->env[i] != NULL; i++)
		env_set(env, image->env[i]);
	for (guint i = 0; invocation->environment != NULL && invocation->environment[i] != NULL;
	     i++)
		env_set(env, invocation->environment[i]);
	env_add_ucloud(env, job);
	return env;
}

static void
append_quoted(GString *out, const gchar *word)
{
	g_string_append_c(out, '\'');
	for (const gchar *p = word; *p != '\0'; p++) {
		if (*p == '\'')
			g_string_append(out, "'\"'\"'");
		else
			g_string_append_c(out, *p);
	}
	g_string_append_c(out, '\'');
}

/* The process's argv; NULL when there is nothing to run. */
static GPtrArray *
args_build(const UcvImageConfig *image, const UcvInvocation *invocation)
{
	GPtrArray *args = g_ptr_array_new_with_free_func(g_free);
	gboolean shell = FALSE;
	guint n = invocation->argv != NULL ? g_strv_length(invocation->argv) : 0;
	g_autoptr(GString) cmd = NULL;

	if (n == 0) {
		/* Docker's rule: Entrypoint, then Cmd as its arguments (or the command) */
		for (guint i = 0; image->entrypoint != NULL && image->entrypoint[i] != NULL; i++)
			g_ptr_array_add(args, g_strdup(image->entrypoint[i]));
		for (guint i = 0; image->cmd != NULL && image->cmd[i] != NULL; i++)
			g_ptr_array_add(args, g_strdup(image->cmd[i]));
		if (args->len == 0)
			g_clear_pointer(&args, g_ptr_array_unref);
		return args;
	}
	for (guint i = 0; i < n; i++)
		shell |= invocation->expand[i];
	if (!shell) {
		for (guint i = 0; i < n; i++)
			g_ptr_array_add(args, g_strdup(invocation->argv[i]));
		return args;
	}
	cmd = g_string_new("exec");
	for (guint i = 0; i < n; i++) {
		g_string_append_c(cmd, ' ');
		if (invocation->expand[i])
			g_string_append_printf(cmd, "\"%s\"", invocation->argv[i]);
		else
			append_quoted(cmd, invocation->argv[i]);
	}
	g_ptr_array_add(args, g_strdup("/bin/sh"));
	g_ptr_array_add(args, g_strdup("-c"));
	g_ptr_array_add(args, g_string_free(g_steal_pointer(&cmd), FALSE));
	return args;
}

static void
add_strings(JsonBuilder *b, const gchar *name, const gchar *const *strv, guint n)
{
	json_builder_set_member_name(b, name);
	json_builder_begin_array(b);
	for (guint i = 0; i < n; i++)
		json_builder_add_string_value(b, strv[i]);
	json_builder_end_array(b);
}

static void
add_strv(JsonBuilder *b, const gchar *name, const gchar *const *strv)
{
	add_strings(b, name, strv, strv != NULL ? g_strv_length((gchar **)strv) : 0);
}

static void
add_capabilities(JsonBuilder *b, gboolean root)
{
	/* a non-root process keeps none in effect: the bounding set only limits what it could
	 * regain, which noNewPrivileges rules out anyway */
	const gchar *const *held = root ? default_caps : NULL;

	json_builder_set_member_name(b, "capabilities");
	json_builder_begin_object(b);
	add_strv(b, "bounding", default_caps);
	add_strv(b, "effective", held);
	add_strv(b, "permitted", held);
	add_strv(b, "inheritable", NULL);
	add_strv(b, "ambient", NULL);
	json_builder_end_object(b);
}

static void
add_process(JsonBuilder *b, GPtrArray *args, GPtrArray *env, const UcvOciJob *job)
{
	guint id = job->run_as_root ? 0 : UCV_OCI_UCLOUD_UID;

	json_builder_set_member_name(b, "process");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "terminal");
	json_builder_add_boolean_value(b, FALSE);
	json_builder_set_member_name(b, "user");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "uid");
	json_builder_add_int_value(b, id);
	json_builder_set_member_name(b, "gid");
	json_builder_add_int_value(b, id);
	json_builder_end_object(b);
	add_strings(b, "args", (const gchar *const *)args->pdata, args->len);
	add_strings(b, "env", (const gchar *const *)env->pdata, env->len);
	json_builder_set_member_name(b, "cwd");
	json_builder_add_string_value(b, CONTAINER_CWD);
	add_capabilities(b, job->run_as_root);
	/* UCloud's provider sets no limit of its own; this is what containerd gives its
	 * containers */
	json_builder_set_member_name(b, "rlimits");
	json_builder_begin_array(b);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "type");
	json_builder_add_string_value(b, "RLIMIT_NOFILE");
	json_builder_set_member_name(b, "hard");
	json_builder_add_int_value(b, NOFILE_LIMIT);
	json_builder_set_member_name(b, "soft");
	json_builder_add_int_value(b, NOFILE_LIMIT);
	json_builder_end_object(b);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "noNewPrivileges");
	json_builder_add_boolean_value(b, TRUE);
	json_builder_end_object(b);
}

static void
add_mount(JsonBuilder *b, const gchar *destination, const gchar *type, const gchar *source,
	  const gchar *const *options)
{
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "destination");
	json_builder_add_string_value(b, destination);
	json_builder_set_member_name(b, "type");
	json_builder_add_string_value(b, type);
	json_builder_set_member_name(b, "source");
	json_builder_add_string_value(b, source);
	add_strv(b, "options", options);
	json_builder_end_object(b);
}

static void
add_mounts(JsonBuilder *b, const UcvOciJob *job)
{
	const gchar *const proc_opts[] = {"nosuid", "noexec", "nodev", NULL};
	const gchar *const dev_opts[] = {"nosuid", "strictatime", "mode=755", "size=65536k", NULL};
	const gchar *const pts_opts[] = {"nosuid",    "noexec", "newinstance", "ptmxmode=0666",
					 "mode=0620", "gid=5",  NULL};
	const gchar *const sys_opts[] = {"nosuid", "noexec", "nodev", "ro", NULL};
	const gchar *const cgroup_opts[] = {"nosuid", "noexec", "nodev", "relatime", "ro", NULL};
	/* UCloud sizes /dev/shm to the product's whole memory (an in-memory emptyDir with the
	 * memory limit as its size); tmpfs takes only what is written */
	g_autofree gchar *shm_size = g_strdup_printf(
		"size=%" G_GUINT64_FORMAT, job->memory_bytes > 0 ? job->memory_bytes : DEFAULT_SHM);
	const gchar *const shm_opts[] = {"nosuid", "noexec", "nodev", "mode=1777", shm_size, NULL};

	json_builder_set_member_name(b, "mounts");
	json_builder_begin_array(b);
	add_mount(b, "/proc", "proc", "proc", proc_opts);
	add_mount(b, "/dev", "tmpfs", "tmpfs", dev_opts);
	add_mount(b, "/dev/pts", "devpts", "devpts", pts_opts);
	add_mount(b, "/dev/shm", "tmpfs", "shm", shm_opts);
	add_mount(b, "/dev/mqueue", "mqueue", "mqueue", proc_opts);
	add_mount(b, "/sys", "sysfs", "sysfs", sys_opts);
	add_mount(b, "/sys/fs/cgroup", "cgroup", "cgroup", cgroup_opts);
	for (guint i = 0; i < job->n_mounts; i++) {
		const UcvOciMount *m = &job->mounts[i];
		const gchar *const rw_opts[] = {"rbind", "rprivate", NULL};
		const gchar *const ro_opts[] = {"rbind", "rprivate", "ro", NULL};
		add_mount(b, m->target, "bind", m->source, m->read_only ? ro_opts : rw_opts);
	}
	json_builder_end_array(b);
}

static void
add_linux(JsonBuilder *b)
{
	/* no "network": the container shares the VM's network, whose ports are the job's */
	const gchar *const namespaces[] = {"pid", "ipc", "uts", "mount", NULL};

	json_builder_set_member_name(b, "linux");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "namespaces");
	json_builder_begin_array(b);
	for (guint i = 0; namespaces[i] != NULL; i++) {
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "type");
		json_builder_add_string_value(b, namespaces[i]);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	add_strv(b, "maskedPaths", masked_paths);
	add_strv(b, "readonlyPaths", readonly_paths);
	/* No seccomp profile: the VM is the isolation boundary, and the container runs in a VM of
	 * its own; no cgroupsPath either, so crun picks its default inside the VM. */
	json_builder_end_object(b);
}

static gboolean
job_check(const UcvOciJob *job, GError **error)
{
	if (job->job_id == NULL || *job->job_id == '\0') {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID, "job without id");
		return FALSE;
	}
	for (guint i = 0; i < job->n_mounts; i++) {
		const UcvOciMount *m = &job->mounts[i];
		if (m->source == NULL || m->target == NULL || !g_path_is_absolute(m->source) ||
		    !g_path_is_absolute(m->target)) {
			g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
				    "mount %u: source and target must be absolute paths", i);
			return FALSE;
		}
	}
	return TRUE;
}

gchar *
ucv_oci_config_build(const gchar *image_config_json, const UcvInvocation *invocation,
		     const UcvOciJob *job, GError **error)
{
	g_auto(UcvImageConfig) image = {NULL};
	g_autoptr(GPtrArray) args = NULL;
	g_autoptr(GPtrArray) env = NULL;
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *hostname = NULL;

	g_return_val_if_fail(invocation != NULL && job != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!job_check(job, error) || !image_config_parse(image_config_json, &image, error))
		return NULL;
	args = args_build(&image, invocation);
	if (args == NULL) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    "nothing to run: no invocation and no Entrypoint or Cmd in "
				    "the image");
		return NULL;
	}
	env = env_build(&image, invocation, job);
	hostname = job->hostname != NULL ? g_strdup(job->hostname)
					 : g_strdup_printf("j%s-%u", job->job_id, job->rank);

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "ociVersion");
	json_builder_add_string_value(b, OCI_VERSION);
	add_process(b, args, env, job);
	json_builder_set_member_name(b, "root");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "path");
	json_builder_add_string_value(b, "rootfs");
	json_builder_set_member_name(b, "readonly");
	json_builder_add_boolean_value(b, FALSE);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "hostname");
	json_builder_add_string_value(b, hostname);
	add_mounts(b, job);
	add_linux(b);
	json_builder_end_object(b);

	root = json_builder_get_root(b);
	return json_to_string(root, TRUE);
}
