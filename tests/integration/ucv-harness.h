/* Integration harness: a fake Core, a real ucloud-virt process and the private libvirtd. */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "ucv-fake-core.h"

G_BEGIN_DECLS

typedef struct {
	gchar *dir; /* everything of this test lives here */
	gchar *config_path;
	gchar *state_dir;
	gchar *image_dir;
	gchar *libvirt_uri;
	gchar *base_url; /* http://127.0.0.1:<port> of the daemon */
	guint port;
	gchar *core_token; /* a Core token, minted on first use */
	UcvFakeCore *core;
	GSubprocess *daemon;
	SoupSession *session;
	virConnectPtr conn;
	gchar *extra_config; /* appended to the daemon's config file */
	gchar *node_file;    /* the test driver's host description, when the harness wrote one */
} UcvHarness;

/* Joins the private libvirtd's network and mount namespaces; call it first in main(), while the
 * process has one thread. The daemon, the fake Core and everything the test starts then share
 * them: the folders the daemon bind-mounts for a DOCKER job are what virtiofsd sees, and the
 * machines' network is reachable. */
void ucv_harness_enter_libvirt_namespaces(void);

/* Everything started; the test fails at once when the environment lacks the private libvirtd. */
UcvHarness *ucv_harness_new(void);
/* The same against any libvirt URI (benchmarks use libvirt's test driver). */
UcvHarness *ucv_harness_new_for(const gchar *libvirt_uri);
/* Either of the above (libvirt_uri NULL: the private libvirtd) with `extra_ini` appended to the
 * daemon's config, e.g. "[scheduler]\nreserved-memory = 4096\n". */
UcvHarness *ucv_harness_new_with_config(const gchar *libvirt_uri, const gchar *extra_ini);
/* libvirt's test driver (no private libvirtd) describing a host of 64 CPUs and 2 TiB, with
 * `extra_ini` appended to the daemon's config: room for a thousand small machines. */
UcvHarness *ucv_harness_new_big_test_host(const gchar *extra_ini);
void ucv_harness_free(UcvHarness *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvHarness, ucv_harness_free)

/* Opens h->conn again, after the private libvirtd was restarted under it. */
void ucv_harness_reconnect_libvirt(UcvHarness *self);

void ucv_harness_start_daemon(UcvHarness *self);
/* SIGKILL (no chance to clean up) or SIGTERM (clean shutdown, exit status 0 expected). */
void ucv_harness_kill_daemon(UcvHarness *self, gboolean hard);
/* Waits until every update the daemon queued has been delivered to the fake Core and removed
 * from its outbox: a SIGKILL before the removal would (rightly) send the update again. */
void ucv_harness_wait_outbox_drained(UcvHarness *self, guint timeout_s);

/* Where the private libvirtd keeps managed-save images, as seen from here (UCV_TEST_LIBVIRT_DIR).
 */
gchar *ucv_harness_save_dir(void);

/* Calls the daemon as Core does; returns the parsed body and sets *status. */
JsonNode *ucv_harness_call(UcvHarness *self, const gchar *method, const gchar *path,
			   const gchar *body, guint *status);

/* A current-form Job of a VM application whose image is the test guest. */
gchar *ucv_harness_vm_job_json(const gchar *job_id, guint replicas);
/* A fresh job id, unique across runs of one private libvirtd. */
gchar *ucv_harness_new_job_id(void);

/* Opens a WebSocket on the daemon (`path` with its query), with Core's bearer token when
 * `as_core`; NULL when refused, with the HTTP status in *status. */
SoupWebsocketConnection *ucv_harness_ws_connect(UcvHarness *self, const gchar *path,
						gboolean as_core, guint *status);

/* interactiveSession of `session_type` ("VNC", "SHELL", …) for the job's rank 0, as Core asks for
 * it; asserts a 200 answer and returns its one response. */
JsonObject *ucv_harness_open_session(UcvHarness *self, const gchar *job_id,
				     const gchar *session_type);

void ucv_harness_create_job(UcvHarness *self, const gchar *job_id, guint replicas);
/* POSTs {"items":[<job_json>]} to `path` (e.g. "/ucloud/test/jobs") and asserts a 200 answer. */
void ucv_harness_post_jobs(UcvHarness *self, const gchar *path, const gchar *job_json);
/* Creates a one-machine job and waits until it is RUNNING and its guest has printed its ready
 * line (its shell is up). */
void ucv_harness_start_ready_job(UcvHarness *self, const gchar *job_id);
void ucv_harness_terminate_job(UcvHarness *self, const gchar *job_id);
/* The same for many single-replica jobs, in bulk requests that stay under the body limit. */
void ucv_harness_create_jobs(UcvHarness *self, GPtrArray *job_ids);
void ucv_harness_terminate_jobs(UcvHarness *self, GPtrArray *job_ids);
/* Suspend and unsuspend as Core's current API sends them: {"items":[{"job":Job}]}. Each asserts
 * an answer of one (empty) response for the one item. */
void ucv_harness_suspend_job(UcvHarness *self, const gchar *job_id);
void ucv_harness_unsuspend_job(UcvHarness *self, const gchar *job_id);
/* The same in the documented form, where each item is the Job itself: {"items":[Job]}. */
void ucv_harness_suspend_job_documented(UcvHarness *self, const gchar *job_id);
void ucv_harness_unsuspend_job_documented(UcvHarness *self, const gchar *job_id);

/* Runs the main loop until the fake Core has received `state` for the job; fails after
 * timeout_s. Returns the update's status line. */
gchar *ucv_harness_wait_state(UcvHarness *self, const gchar *job_id, const gchar *state,
			      guint timeout_s);
/* Like ucv_harness_wait_state, but for the n-th (1 = first) update carrying `state`: a job
 * suspended and resumed reports RUNNING twice. */
gchar *ucv_harness_wait_nth_state(UcvHarness *self, const gchar *job_id, const gchar *state,
				  guint n, guint timeout_s);
/* Runs the main loop until the rank's serial log contains `text`. */
void ucv_harness_wait_console(UcvHarness *self, const gchar *job_id, guint rank, const gchar *text,
			      guint timeout_s);
/* Types `text` into the rank's serial console, as a person at the console would. */
void ucv_harness_type(UcvHarness *self, const gchar *job_id, guint rank, const gchar *text);
/* Runs the main loop until a line of the daemon's log after *offset matches `regex`; returns the
 * line and moves *offset past it. Fails after timeout_s. */
gchar *ucv_harness_wait_log(UcvHarness *self, goffset *offset, const gchar *regex, guint timeout_s);
/* Where the daemon's log ends now: a start for ucv_harness_wait_log that skips the past. */
goffset ucv_harness_log_end(UcvHarness *self);
/* The daemon's resident set size in bytes, from /proc. */
guint64 ucv_harness_daemon_rss(UcvHarness *self);
/* Runs the main loop for a while (lets late updates arrive). */
void ucv_harness_spin(guint ms);

gboolean ucv_harness_domain_exists(UcvHarness *self, const gchar *job_id, guint rank);
gboolean ucv_harness_domain_is_active(UcvHarness *self, const gchar *job_id, guint rank);
gchar *ucv_harness_disk_path(UcvHarness *self, const gchar *job_id, guint rank);

/* When (g_get_real_time) the fake Core received the n-th (1 = first) update of the job carrying
 * `state`; fails the test when there is none. */
gint64 ucv_harness_received_us(UcvHarness *self, const gchar *job_id, const gchar *state, guint n);
/* The states the fake Core received for the job, in order, e.g. "RUNNING,SUCCESS". */
gchar *ucv_harness_states_of(UcvHarness *self, const gchar *job_id);

G_END_DECLS
