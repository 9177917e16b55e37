/* What DOCKER-job tests share: a real docker-registry with the test image (built by
 * local-registry.sh), drives for the jobs' folders, a daemon configured for container hosts, and
 * jobs of the test image's applications. */
#pragma once

#include "ucv-harness.h"

G_BEGIN_DECLS

#define UCV_DOCKER_REGISTRY_PORT 5000
#define UCV_DOCKER_IMAGE         "127.0.0.1:5000/acme/batch:1.0.0"
#define UCV_DOCKER_DRIVE         "4711" /* the drive the tests' files are on */
#define UCV_DOCKER_UID           11042

/* An application of the test image and the job's values; the JSON fields are written with single
 * quotes for double quotes. NULL members are JSON null. */
typedef struct {
	const gchar *image;            /* NULL: UCV_DOCKER_IMAGE */
	const gchar *application_type; /* NULL: BATCH */
	guint web_port;                /* WEB applications */
	guint vnc_port;                /* VNC applications */
	const gchar *vnc_password;
	gboolean run_as_root;
	const gchar *invocation;
	const gchar *parameters;
	const gchar *environment;
	const gchar *values;
	const gchar *resources;
} UcvDockerJob;

/* A DOCKER test program's start: joins the private libvirtd's namespaces (while the process has
 * one thread: the daemon's folder mounts must be where libvirtd looks), g_test_init, then the
 * registry with the test image. Tests are added after it; ucv_docker_test_run runs them and
 * stops the registry. */
void ucv_docker_test_init(int *argc, char ***argv);
int ucv_docker_test_run(void);
/* The test image's manifest digest. */
const gchar *ucv_docker_fixture_digest(void);

/* Writes a file at /<UCV_DOCKER_DRIVE>/<relative> of the drives. */
void ucv_docker_write_drive_file(const gchar *relative, const gchar *contents);
/* The file's path on the host. */
gchar *ucv_docker_drive_path(const gchar *relative);

/* The daemon, its container host from this build, the registry trusted over plain HTTP, the
 * drives as [files] drive-root. */
UcvHarness *ucv_docker_harness_new(void);
/* The same with another initrd (NULL: this build's) and agent-timeout. */
UcvHarness *ucv_docker_harness_new_full(const gchar *initrd, guint agent_timeout_s);
/* The same with `extra_ini` appended to the daemon's config (later keys win). */
UcvHarness *ucv_docker_harness_new_with(const gchar *extra_ini);
/* The same on a libvirt network with DHCP (defined in the private libvirtd once) and
 * [web] domain = UCV_DOCKER_WEB_DOMAIN, for web applications. */
UcvHarness *ucv_docker_harness_new_web(void);
#define UCV_DOCKER_WEB_DOMAIN "apps.test"

/* A plain HTTP/1.1 GET to the daemon at 127.0.0.1:port with an explicit Host (web applications
 * are told apart by it) and optional Cookie header; returns the body, sets *status and, when
 * the answer sets a cookie, *set_cookie (its name=value). */
gchar *ucv_docker_http_get(guint port, const gchar *host, const gchar *path, const gchar *cookie,
			   guint *status, gchar **set_cookie);

/* How many requests in the registry's access log contain `needle` (e.g. a blob's path). */
guint ucv_docker_registry_count(const gchar *needle);
/* A current-form Job of a DOCKER application (the test-vm product: 1 CPU, 1 GiB). */
gchar *ucv_docker_job_json(const gchar *job_id, const UcvDockerJob *spec);
/* Creates the job and waits until it is RUNNING. */
void ucv_docker_start_job(UcvHarness *h, const gchar *job_id, const UcvDockerJob *spec);
/* interactiveSession of `session_type` ("SHELL", "WEB", …) for rank 0 of the job, as Core asks
 * for it; asserts a 200 answer and returns its one response. */
JsonObject *ucv_docker_open_session(UcvHarness *h, const gchar *job_id, const UcvDockerJob *spec,
				    const gchar *session_type);
/* Runs the main loop until the rank's container host is gone (its domain undefined). */
void ucv_docker_wait_domain_gone(UcvHarness *h, const gchar *job_id);

G_END_DECLS
