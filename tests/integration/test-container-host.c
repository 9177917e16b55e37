/* The container-host image on its own: a real VM on the private libvirtd boots the built kernel and
 * initramfs, the agent runs an OCI container from an erofs image with crun, and the test is the
 * host end of the control channel, speaking the agent protocol with the shared frame codec. */
#include "config.h"

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "agent/ucv-agent-frame.h"
#include "ucv-agent-version.h"

#define BUSYBOX         "/bin/busybox"
#define CONTAINER_UID   11042
#define RUN_TIMEOUT_S   150
#define SOCKET_WAIT_S   20
#define GONE_TIMEOUT_MS 20000
#define SHELL_CHANNEL   1
#define SHELL_WAIT_S    20

/* The OCI runtime config the engine will generate, reduced to what this job needs. */
#define CONFIG_TEMPLATE                                                                            \
	"{\n"                                                                                      \
	"  \"ociVersion\": \"1.0.2\",\n"                                                           \
	"  \"process\": {\n"                                                                       \
	"    \"terminal\": false,\n"                                                               \
	"    \"user\": {\"uid\": %u, \"gid\": %u},\n"                                              \
	"    \"args\": [\"/bin/sh\", \"-c\", \"%s\"],\n"                                           \
	"    \"env\": [\"PATH=/usr/sbin:/usr/bin:/sbin:/bin\", \"HOME=/\"],\n"                     \
	"    \"cwd\": \"/\",\n"                                                                    \
	"    \"noNewPrivileges\": true,\n"                                                         \
	"    \"capabilities\": {\n"                                                                \
	"      \"bounding\": [\"CAP_CHOWN\", \"CAP_DAC_OVERRIDE\", \"CAP_FSETID\", "               \
	"\"CAP_FOWNER\",\n"                                                                        \
	"        \"CAP_MKNOD\", \"CAP_NET_RAW\", \"CAP_SETGID\", \"CAP_SETUID\", "                 \
	"\"CAP_SETFCAP\",\n"                                                                       \
	"        \"CAP_SETPCAP\", \"CAP_NET_BIND_SERVICE\", \"CAP_SYS_CHROOT\", \"CAP_KILL\",\n"   \
	"        \"CAP_AUDIT_WRITE\"],\n"                                                          \
	"      \"effective\": [], \"permitted\": [], \"inheritable\": [], \"ambient\": []\n"       \
	"    }\n"                                                                                  \
	"  },\n"                                                                                   \
	"  \"root\": {\"path\": \"rootfs\", \"readonly\": false},\n"                               \
	"  \"hostname\": \"job\",\n"                                                               \
	"  \"mounts\": [\n"                                                                        \
	"    {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},\n"            \
	"    {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\",\n"            \
	"      \"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},\n"      \
	"    {\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\",\n"      \
	"      \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", "         \
	"\"mode=0620\"]},\n"                                                                       \
	"    {\"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\",\n"          \
	"      \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", "                   \
	"\"size=65536k\"]},\n"                                                                     \
	"    {\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\",\n"            \
	"      \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"]}\n"                        \
	"  ],\n"                                                                                   \
	"  \"linux\": {\n"                                                                         \
	"    \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"ipc\"}, {\"type\": \"uts\"},\n"    \
	"      {\"type\": \"mount\"}],\n"                                                          \
	"    \"maskedPaths\": [\"/proc/kcore\", \"/proc/keys\", \"/sys/firmware\"],\n"             \
	"    \"readonlyPaths\": [\"/proc/sys\", \"/proc/sysrq-trigger\"]\n"                        \
	"  }\n"                                                                                    \
	"}\n"

/* What the container-host VM needs from libvirt: direct kernel boot, ACPI (the fw_cfg device is
 * described there; without <acpi/> the config never shows up in the guest), the image read-only
 * and never relabelled, the config through fw_cfg, the control channel, a console log. */
#define DOMAIN_TEMPLATE                                                                            \
	"<domain type='qemu'>\n"                                                                   \
	"  <name>%s</name>\n"                                                                      \
	"  <memory unit='MiB'>512</memory>\n"                                                      \
	"  <vcpu>1</vcpu>\n"                                                                       \
	"  <sysinfo type='fwcfg'>\n"                                                               \
	"    <entry name='opt/ucloud/config.json' file='%s'/>\n"                                   \
	"  </sysinfo>\n"                                                                           \
	"  <os>\n"                                                                                 \
	"    <type arch='x86_64' machine='q35'>hvm</type>\n"                                       \
	"    <kernel>%s</kernel>\n"                                                                \
	"    <initrd>%s</initrd>\n"                                                                \
	"    <cmdline>console=ttyS0 quiet panic=-1</cmdline>\n"                                    \
	"  </os>\n"                                                                                \
	"  <features><acpi/></features>\n"                                                         \
	"  <on_poweroff>destroy</on_poweroff>\n"                                                   \
	"  <on_reboot>destroy</on_reboot>\n"                                                       \
	"  <on_crash>destroy</on_crash>\n"                                                         \
	"  <devices>\n"                                                                            \
	"    <disk type='file' device='disk'>\n"                                                   \
	"      <driver name='qemu' type='raw'/>\n"                                                 \
	"      <source file='%s'>\n"                                                               \
	"        <seclabel model='dac' relabel='no'/>\n"                                           \
	"      </source>\n"                                                                        \
	"      <target dev='vda' bus='virtio'/>\n"                                                 \
	"      <serial>ucv-image</serial>\n"                                                       \
	"      <readonly/>\n"                                                                      \
	"    </disk>\n"                                                                            \
	"    <controller type='virtio-serial' index='0'/>\n"                                       \
	"    <channel type='unix'>\n"                                                              \
	"      <source mode='bind' path='%s'/>\n"                                                  \
	"      <target type='virtio' name='org.ucloud.virt.agent'/>\n"                             \
	"    </channel>\n"                                                                         \
	"    <serial type='file'>\n"                                                               \
	"      <source path='%s'/>\n"                                                              \
	"      <target port='0'/>\n"                                                               \
	"    </serial>\n"                                                                          \
	"    <memballoon model='none'/>\n"                                                         \
	"  </devices>\n"                                                                           \
	"</domain>\n"

typedef struct {
	gchar *dir;
	gchar *image_dir;
	virConnectPtr conn;
	virDomainPtr domain;
	gchar *name;
	gchar *socket_path;
	gchar *console_path;
	GSocket *socket;
	gint64 started_us;
	gint64 created_us; /* when virDomainCreateXML returned */
	/* what arrived */
	gchar *hello_version;
	guint16 hello_protocol;
	gboolean started;
	GString *out;
	GString *err;
	gint64 first_stdout_us;
	gboolean exited;
	gint32 exit_code;
	guint exit_frames;
	gchar *decode_error;
	UcvAgentDecoder *decoder;
	GString *shell_out; /* what shell channel SHELL_CHANNEL showed */
	gboolean shell_closed;
} Run;

static void
ignore_libvirt_error(void *user_data, virErrorPtr error)
{
}

static void
run_free(Run *run)
{
	if (run->domain != NULL) {
		virDomainDestroy(run->domain);
		virDomainFree(run->domain);
	}
	g_clear_pointer(&run->conn, virConnectClose);
	g_clear_object(&run->socket);
	if (g_getenv("UCV_TEST_KEEP") == NULL && run->dir != NULL) {
		const gchar *argv[] = {"rm", "-rf", run->dir, NULL};

		g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
			     NULL, NULL, NULL);
	}
	g_free(run->dir);
	g_free(run->image_dir);
	g_free(run->name);
	g_free(run->socket_path);
	g_free(run->console_path);
	g_free(run->hello_version);
	g_string_free(run->out, TRUE);
	g_string_free(run->err, TRUE);
	g_free(run->decode_error);
	g_free(run->decoder);
	g_string_free(run->shell_out, TRUE);
	g_free(run);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Run, run_free)

static const gchar *
container_host_dir(void)
{
	const gchar *dir = g_getenv("UCV_TEST_CONTAINER_HOST_DIR");

	return dir != NULL ? dir : UCV_CONTAINER_HOST_BUILD_DIR;
}

/* NULL, or why this machine cannot run the test. */
static const gchar *
missing_prerequisite(void)
{
	g_autofree gchar *initrd = g_build_filename(container_host_dir(), "initrd.img", NULL);
	g_autofree gchar *mkfs = g_find_program_in_path("mkfs.erofs");

	if (g_getenv("UCV_TEST_LIBVIRT_URI") == NULL)
		return "UCV_TEST_LIBVIRT_URI must name the private libvirtd (tools/run-tests.sh)";
	if (!g_file_test(initrd, G_FILE_TEST_EXISTS))
		return "the container-host image is not built (-Dcontainer_host)";
	if (mkfs == NULL)
		return "mkfs.erofs is missing (erofs-utils)";
	if (!g_file_test(BUSYBOX, G_FILE_TEST_IS_EXECUTABLE))
		return "busybox-static is missing";
	return NULL;
}

static void
run_command(const gchar *const *argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *err = NULL;
	gint status = 0;

	g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
		     NULL, NULL, NULL, &err, &status, &error);
	g_assert_no_error(error);
	if (!g_spawn_check_wait_status(status, &error))
		g_error("%s failed: %s\n%s", argv[0], error->message, err);
}

/* A root filesystem of busybox alone, as one erofs image (mtimes kept: no -T0). */
static gchar *
make_image(Run *run)
{
	g_autofree gchar *root = g_build_filename(run->dir, "root", NULL);
	g_autofree gchar *bin = g_build_filename(root, "bin", NULL);
	g_autofree gchar *busybox = g_build_filename(bin, "busybox", NULL);
	gchar *image = g_build_filename(run->dir, "image.erofs", NULL);
	const gchar *applets[] = {"sh", "id", "echo", "cat", "ls", "sleep", "stty"};
	const gchar *dirs[] = {"proc", "sys", "dev", "tmp"};
	const gchar *copy[] = {"cp", BUSYBOX, busybox, NULL};
	const gchar *mkfs[] = {"mkfs.erofs", "--quiet", image, root, NULL};

	g_assert_cmpint(g_mkdir_with_parents(bin, 0755), ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(dirs); i++) {
		g_autofree gchar *dir = g_build_filename(root, dirs[i], NULL);

		g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
	}
	run_command(copy);
	for (guint i = 0; i < G_N_ELEMENTS(applets); i++) {
		g_autofree gchar *link = g_build_filename(bin, applets[i], NULL);

		g_assert_cmpint(symlink("busybox", link), ==, 0);
	}
	run_command(mkfs);
	return image;
}

static gchar *
write_config(Run *run, const gchar *script)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *config =
		g_strdup_printf(CONFIG_TEMPLATE, CONTAINER_UID, CONTAINER_UID, script);
	gchar *path = g_build_filename(run->dir, "config.json", NULL);

	g_file_set_contents(path, config, -1, &error);
	g_assert_no_error(error);
	return path;
}

static Run *
run_new(void)
{
	g_autoptr(GError) error = NULL;
	Run *run = g_new0(Run, 1);

	run->out = g_string_new(NULL);
	run->err = g_string_new(NULL);
	run->shell_out = g_string_new(NULL);
	run->decoder = g_new0(UcvAgentDecoder, 1);
	ucv_agent_decoder_init(run->decoder, UCV_AGENT_PEER_GUEST);
	run->dir = g_dir_make_tmp("ucv-ch-XXXXXX", &error);
	g_assert_no_error(error);
	run->name = g_strdup_printf("ucv-ch-test-%d", (int)getpid());
	run->socket_path = g_build_filename(run->dir, "agent.sock", NULL);
	run->console_path = g_build_filename(run->dir, "console.log", NULL);
	virSetErrorFunc(NULL, ignore_libvirt_error);
	run->conn = virConnectOpen(g_getenv("UCV_TEST_LIBVIRT_URI"));
	g_assert_nonnull(run->conn);
	return run;
}

static void
start_domain(Run *run, const gchar *image, const gchar *config)
{
	g_autofree gchar *kernel = g_build_filename(container_host_dir(), "vmlinuz", NULL);
	g_autofree gchar *initrd = g_build_filename(container_host_dir(), "initrd.img", NULL);
	g_autofree gchar *xml =
		g_markup_printf_escaped(DOMAIN_TEMPLATE, run->name, config, kernel, initrd, image,
					run->socket_path, run->console_path);

	run->started_us = g_get_monotonic_time();
	run->domain = virDomainCreateXML(run->conn, xml, 0);
	run->created_us = g_get_monotonic_time();
	if (run->domain == NULL)
		g_error("cannot start the container host: %s", virGetLastErrorMessage());
}

/* QEMU listens on the channel's socket once the domain runs. */
static void
connect_channel(Run *run)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocketAddress) address = g_unix_socket_address_new(run->socket_path);
	gint64 deadline = g_get_monotonic_time() + SOCKET_WAIT_S * G_USEC_PER_SEC;

	run->socket = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
				   G_SOCKET_PROTOCOL_DEFAULT, &error);
	g_assert_no_error(error);
	while (!g_socket_connect(run->socket, address, NULL, &error)) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		g_clear_error(&error);
		g_usleep(20000);
	}
}

static void
send_encoded(Run *run, const guint8 *frame, gsize len)
{
	g_autoptr(GError) error = NULL;

	g_assert_cmpuint(len, >, 0);
	g_assert_cmpint(g_socket_send(run->socket, (const gchar *)frame, len, NULL, &error), ==,
			(gssize)len);
	g_assert_no_error(error);
}

static void
send_frame(Run *run, guint8 type, guint32 channel, const void *payload, gsize payload_len)
{
	guint8 frame[UCV_AGENT_FRAME_HEADER + 256];

	send_encoded(run, frame,
		     ucv_agent_frame_encode(frame, sizeof(frame), UCV_AGENT_PEER_HOST, type,
					    channel, payload, payload_len));
}

static void
send_exit_ack(Run *run)
{
	send_frame(run, UCV_AGENT_FRAME_EXIT_ACK, 0, NULL, 0);
}

static void
handle_frame(Run *run, const UcvAgentFrame *frame)
{
	const char *version;
	gsize version_len;

	switch (frame->type) {
	case UCV_AGENT_FRAME_HELLO:
		g_free(run->hello_version);
		ucv_agent_frame_parse_hello(frame, &run->hello_protocol, &version, &version_len);
		run->hello_version = g_strndup(version, version_len);
		break;
	case UCV_AGENT_FRAME_STARTED:
		run->started = TRUE;
		break;
	case UCV_AGENT_FRAME_STDOUT:
		if (run->first_stdout_us == 0)
			run->first_stdout_us = g_get_monotonic_time();
		g_string_append_len(run->out, (const gchar *)frame->payload, frame->payload_len);
		break;
	case UCV_AGENT_FRAME_STDERR:
		g_string_append_len(run->err, (const gchar *)frame->payload, frame->payload_len);
		break;
	case UCV_AGENT_FRAME_DATA:
		if (frame->channel == SHELL_CHANNEL)
			g_string_append_len(run->shell_out, (const gchar *)frame->payload,
					    frame->payload_len);
		break;
	case UCV_AGENT_FRAME_CLOSE:
		if (frame->channel == SHELL_CHANNEL)
			run->shell_closed = TRUE;
		break;
	case UCV_AGENT_FRAME_EXIT:
		run->exited = TRUE;
		run->exit_code = ucv_agent_frame_parse_exit(frame);
		run->exit_frames++;
		send_exit_ack(run);
		break;
	default:
		break;
	}
}

/* What the guest said, for a failing assertion to be understood. */
static void
print_diagnostics(Run *run)
{
	g_autofree gchar *console = NULL;

	g_file_get_contents(run->console_path, &console, NULL, NULL);
	g_printerr("stdout: %s\nstderr: %s\nshell: %s\nconsole:\n%s\n", run->out->str,
		   run->err->str, run->shell_out->str, console != NULL ? console : "(none)");
}

/* Handles what arrives before `deadline`; FALSE once the channel is closed (the VM is gone), the
 * stream is bad or time ran out. */
static gboolean
receive_some(Run *run, gint64 deadline)
{
	g_autoptr(GError) error = NULL;
	gchar buf[16384];
	gssize n;
	gsize pos = 0;

	if (run->decode_error != NULL || g_get_monotonic_time() >= deadline ||
	    !g_socket_condition_timed_wait(run->socket, G_IO_IN, deadline - g_get_monotonic_time(),
					   NULL, NULL))
		return FALSE;
	n = g_socket_receive(run->socket, buf, sizeof(buf), NULL, &error);
	if (n <= 0)
		return FALSE;
	while (pos < (gsize)n) {
		UcvAgentFrame frame;
		gsize used = 0;
		UcvAgentFeedResult result = ucv_agent_decoder_feed(
			run->decoder, (const guint8 *)buf + pos, (gsize)n - pos, &used, &frame);

		pos += used;
		if (result == UCV_AGENT_FEED_ERROR) {
			run->decode_error = g_strdup(ucv_agent_decode_error_string(
				ucv_agent_decoder_error(run->decoder)));
			return FALSE;
		}
		if (result == UCV_AGENT_FEED_FRAME)
			handle_frame(run, &frame);
	}
	return TRUE;
}

/* Reads frames until QEMU closes the channel (the VM is gone) or time runs out. */
static void
read_frames(Run *run)
{
	while (receive_some(run, run->started_us + RUN_TIMEOUT_S * G_USEC_PER_SEC)) {
	}
}

/* Reads until `text` shows up in `where`. */
static void
wait_for_text(Run *run, GString *where, const gchar *text)
{
	gint64 deadline = g_get_monotonic_time() + SHELL_WAIT_S * G_USEC_PER_SEC;

	while (strstr(where->str, text) == NULL) {
		if (!receive_some(run, deadline)) {
			print_diagnostics(run);
			g_error("\"%s\" did not arrive", text);
		}
	}
}

static gboolean
domain_gone(Run *run)
{
	virDomainPtr domain = virDomainLookupByName(run->conn, run->name);

	if (domain == NULL)
		return TRUE;
	virDomainFree(domain);
	return FALSE;
}

static void
wait_domain_gone(Run *run)
{
	for (guint waited = 0; waited < GONE_TIMEOUT_MS && !domain_gone(run); waited += 100)
		g_usleep(100000);
	g_assert_true(domain_gone(run));
	g_clear_pointer(&run->domain, virDomainFree);
}

static gchar *
expected_version(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = g_build_filename(container_host_dir(), "VERSION", NULL);
	gchar *text = NULL;

	g_file_get_contents(path, &text, NULL, &error);
	g_assert_no_error(error);
	return g_strchomp(text);
}

/* The batch path: output, uid, exit code, power-off, and how long until the first output. */
static void
test_batch(void)
{
	g_autoptr(Run) run = NULL;
	g_autofree gchar *image = NULL;
	g_autofree gchar *config = NULL;
	g_autofree gchar *version = NULL;
	const gchar *missing = missing_prerequisite();

	if (missing != NULL) {
		g_test_skip(missing);
		return;
	}
	run = run_new();
	version = expected_version();
	image = make_image(run);
	config = write_config(run, "echo hello from the container; id -u; exit 3");
	start_domain(run, image, config);
	connect_channel(run);
	read_frames(run);
	if (run->decode_error != NULL || !run->exited || run->exit_code != 3)
		print_diagnostics(run);

	g_assert_null(run->decode_error);
	g_assert_cmpuint(run->hello_protocol, ==, UCV_AGENT_PROTOCOL_VERSION);
	g_assert_cmpstr(run->hello_version, ==, version);
	g_assert_cmpstr(run->hello_version, ==, UCV_AGENT_VERSION);
	g_assert_true(run->started);
	g_assert_nonnull(strstr(run->out->str, "hello from the container\n"));
	g_assert_nonnull(strstr(run->out->str, "11042\n"));
	g_assert_true(run->exited);
	g_assert_cmpint(run->exit_code, ==, 3);
	wait_domain_gone(run);
	g_test_message("first STDOUT %.2f s after the domain was created (create took %.2f s); "
		       "EXIT frames: %u",
		       (double)(run->first_stdout_us - run->started_us) / G_USEC_PER_SEC,
		       (double)(run->created_us - run->started_us) / G_USEC_PER_SEC,
		       run->exit_frames);
}

/* crun refuses the config: the reason reaches the host as STDERR, the exit code is -1. */
static void
test_bad_config(void)
{
	g_autoptr(Run) run = NULL;
	g_autofree gchar *image = NULL;
	g_autofree gchar *config = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *missing = missing_prerequisite();

	if (missing != NULL) {
		g_test_skip(missing);
		return;
	}
	run = run_new();
	image = make_image(run);
	config = g_build_filename(run->dir, "config.json", NULL);
	g_file_set_contents(config, "{\"ociVersion\": \"1.0.2\", \"process\": 42}", -1, &error);
	g_assert_no_error(error);
	start_domain(run, image, config);
	connect_channel(run);
	read_frames(run);
	if (!run->exited || run->exit_code != -1)
		print_diagnostics(run);

	g_assert_null(run->decode_error);
	g_assert_nonnull(run->hello_version);
	g_assert_false(run->started);
	g_assert_cmpstr(run->out->str, ==, "");
	g_assert_nonnull(strstr(run->err->str, "ucv-agent: crun could not start the container"));
	g_assert_true(run->exited);
	g_assert_cmpint(run->exit_code, ==, -1);
	wait_domain_gone(run);
}

static void
send_shell_input(Run *run, const gchar *text)
{
	send_frame(run, UCV_AGENT_FRAME_DATA, SHELL_CHANNEL, text, strlen(text));
}

/* A shell next to the running job: a terminal as uid 11042, the VM's loopback, resize, a signal
 * for its foreground process, and its end; then the host stops the job with SIGTERM. */
static void
test_shell(void)
{
	g_autoptr(Run) run = NULL;
	g_autofree gchar *image = NULL;
	g_autofree gchar *config = NULL;
	guint8 frame[UCV_AGENT_FRAME_HEADER + 8];
	const gchar *missing = missing_prerequisite();

	if (missing != NULL) {
		g_test_skip(missing);
		return;
	}
	run = run_new();
	image = make_image(run);
	config = write_config(run, "trap 'echo terminated; exit 7' TERM; echo ready; "
				   "while true; do sleep 0.2; done");
	start_domain(run, image, config);
	connect_channel(run);
	wait_for_text(run, run->out, "ready\n");

	send_encoded(run, frame,
		     ucv_agent_frame_encode_shell_open(frame, sizeof(frame), SHELL_CHANNEL,
						       CONTAINER_UID, 80, 24));
	send_shell_input(run, "id -u; echo sum=$((6*7))\n");
	wait_for_text(run, run->shell_out, "sum=42");
	g_assert_nonnull(strstr(run->shell_out->str, "11042"));

	/* the VM's network is the container's: loopback is up (IFF_UP | IFF_LOOPBACK) */
	send_shell_input(run, "echo lo=$(cat /sys/class/net/lo/flags)\n");
	wait_for_text(run, run->shell_out, "lo=0x9");

	send_encoded(run, frame,
		     ucv_agent_frame_encode_resize(frame, sizeof(frame), SHELL_CHANNEL, 100, 30));
	send_shell_input(run, "stty size\n");
	wait_for_text(run, run->shell_out, "30 100");

	/* only an interrupted sleep lets the echo run within the wait */
	send_shell_input(run, "sleep 100\n");
	g_usleep(500000);
	send_encoded(run, frame,
		     ucv_agent_frame_encode_signal(frame, sizeof(frame), SHELL_CHANNEL, SIGINT));
	send_shell_input(run, "echo back=$((1+1))\n");
	wait_for_text(run, run->shell_out, "back=2");

	send_shell_input(run, "exit\n");
	while (!run->shell_closed)
		g_assert_true(
			receive_some(run, g_get_monotonic_time() + SHELL_WAIT_S * G_USEC_PER_SEC));

	/* the job itself ends on a signal from the host */
	g_assert_false(run->exited);
	send_encoded(run, frame, ucv_agent_frame_encode_signal(frame, sizeof(frame), 0, SIGTERM));
	read_frames(run);
	if (!run->exited || run->exit_code != 7)
		print_diagnostics(run);
	g_assert_nonnull(strstr(run->out->str, "terminated\n"));
	g_assert_true(run->exited);
	g_assert_cmpint(run->exit_code, ==, 7);
	wait_domain_gone(run);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/container-host/batch", test_batch);
	g_test_add_func("/container-host/bad-config", test_bad_config);
	g_test_add_func("/container-host/shell", test_shell);
	return g_test_run();
}
