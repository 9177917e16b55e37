/* A fake UCloud/Core for tests: provider token refresh and job control calls on loopback. */
#pragma once

#include <glib-object.h>

#include "ucv-test-signer.h"

G_BEGIN_DECLS

/* One item of a POST /api/jobs/control/update, in the order Core received it. */
typedef struct {
	gchar *job_id;
	gchar *state;                  /* NULL when the update carries no state */
	gchar *status;                 /* NULL when the update carries no status message */
	gint64 new_time_allocation_ms; /* -1 when absent or null */
	gchar *json;                   /* the whole "update" object, compact JSON */
	gint64 received_us;            /* g_get_real_time() when the call arrived */
	guint sequence;                /* 0, 1, 2 … over the life of the fake Core */
} UcvFakeCoreUpdate;

#define UCV_TYPE_FAKE_CORE_UPDATE (ucv_fake_core_update_get_type())
GType ucv_fake_core_update_get_type(void);
UcvFakeCoreUpdate *ucv_fake_core_update_copy(const UcvFakeCoreUpdate *update);
void ucv_fake_core_update_free(UcvFakeCoreUpdate *update);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvFakeCoreUpdate, ucv_fake_core_update_free)

#define UCV_TYPE_FAKE_CORE (ucv_fake_core_get_type())
G_DECLARE_FINAL_TYPE(UcvFakeCore, ucv_fake_core, UCV, FAKE_CORE, GObject)

/* Loads or creates state_dir/core-key.pem and state_dir/refresh-token, and writes
 * state_dir/ucloud-public-key (base64 DER SubjectPublicKeyInfo) for the provider's config. */
UcvFakeCore *ucv_fake_core_new(const gchar *state_dir, GError **error);

/* Listens on 127.0.0.1:port (0 = an ephemeral port) in the thread-default main context. */
gboolean ucv_fake_core_listen(UcvFakeCore *self, guint port, GError **error);
/* "http://127.0.0.1:<port>", valid after a successful listen. */
const gchar *ucv_fake_core_get_url(UcvFakeCore *self);
guint ucv_fake_core_get_port(UcvFakeCore *self);

/* Down: the listening socket and every open connection are closed, so connections are refused.
 * Up again: listens on the same port as before. */
gboolean ucv_fake_core_set_down(UcvFakeCore *self, gboolean down, GError **error);
gboolean ucv_fake_core_get_down(UcvFakeCore *self);

const gchar *ucv_fake_core_get_state_dir(UcvFakeCore *self);
const gchar *ucv_fake_core_get_refresh_token(UcvFakeCore *self);
/* Paths for the provider's [ucloud] refresh-token-file and public-key-file. */
gchar *ucv_fake_core_get_refresh_token_file(UcvFakeCore *self);
gchar *ucv_fake_core_get_public_key_file(UcvFakeCore *self);
UcvTestSigner *ucv_fake_core_get_signer(UcvFakeCore *self);

/* The provider id put into access tokens (sub "#P_<id>"); default "example". */
void ucv_fake_core_set_provider_id(UcvFakeCore *self, const gchar *provider_id);
/* Lifetime of access tokens minted from now on; default 600 s. */
void ucv_fake_core_set_token_lifetime(UcvFakeCore *self, gint64 seconds);
/* Makes every access token minted so far invalid, so the next control call gets a 401. */
void ucv_fake_core_revoke_access_tokens(UcvFakeCore *self);
/* A token as Core sends it to providers (sub "_UCloud", role "SERVICE"), valid for 10 minutes. */
gchar *ucv_fake_core_mint_core_token(UcvFakeCore *self);
/* Successful and failed POST /auth/providers/refresh calls. */
guint ucv_fake_core_get_refresh_count(UcvFakeCore *self);

/* Later updates for this job are answered with 404, as Core does for jobs it does not know. */
void ucv_fake_core_forget_job(UcvFakeCore *self, const gchar *job_id);
/* Answers the next `count` update calls with `http_status` (e.g. 500, 503) and records nothing. */
void ucv_fake_core_fail_updates(UcvFakeCore *self, guint http_status, guint count);
/* HTTP calls to /api/jobs/control/update, including refused ones. */
guint ucv_fake_core_get_update_calls(UcvFakeCore *self);

/* Copies of the recorded updates (UcvFakeCoreUpdate), oldest first; job_id NULL = all jobs. */
GPtrArray *ucv_fake_core_get_updates(UcvFakeCore *self, const gchar *job_id);
/* The state of the newest update for the job that carried one, or NULL. */
gchar *ucv_fake_core_get_last_state(UcvFakeCore *self, const gchar *job_id);
void ucv_fake_core_clear_updates(UcvFakeCore *self);
/* Iterates the thread-default main context until an update with `state` for the job has been
 * received (also one recorded earlier) or timeout_ms passed. */
gboolean ucv_fake_core_wait_for_state(UcvFakeCore *self, const gchar *job_id, const gchar *state,
				      guint timeout_ms);

/* Keys browseSshKeys returns for every job; none by default. */
void ucv_fake_core_add_ssh_key(UcvFakeCore *self, const gchar *title, const gchar *public_key);
/* The Job JSON that GET /api/jobs/control/retrieve?id=<job_id> answers; unknown ids get 404. */
void ucv_fake_core_set_job(UcvFakeCore *self, const gchar *job_id, const gchar *job_json);

/* Accounting: POST /api/accounting/v2/reportUsage and POST /api/jobs/control/chargeCredits,
 * checked as Core checks them (400 for an item Core cannot read, 403 for one it forbids). */
/* A locked wallet answers reportUsage items `false` (the usage is still recorded) and lists
 * chargeCredits items in insufficientFunds without charging them. */
void ucv_fake_core_set_wallet_locked(UcvFakeCore *self, gboolean locked);
/* chargeCredits of a locked wallet answers 402 Payment Required (older Core) instead of listing
 * insufficientFunds. */
void ucv_fake_core_set_charge_402(UcvFakeCore *self, gboolean use_402);
/* While stalled, accounting calls are recorded and applied but their answers are held back
 * (soup_server_message_pause); un-stalling sends the held answers. A client that goes away while
 * waiting just never gets its answer; going down or disposing drops the held answers unsent. */
void ucv_fake_core_set_accounting_stalled(UcvFakeCore *self, gboolean stalled);
/* Accounting calls whose answers are being held right now. */
guint ucv_fake_core_get_held_accounting_calls(UcvFakeCore *self);
/* The newest absolute usage reported for scope "job-<job_id>", or -1. */
gint64 ucv_fake_core_get_reported_usage(UcvFakeCore *self, const gchar *job_id);
/* reportUsage items (absolute and delta) received for the job's scope. */
guint ucv_fake_core_get_usage_reports(UcvFakeCore *self, const gchar *job_id);
/* Absolute reports lower than an earlier report for the job: absolute usage must never go down. */
guint ucv_fake_core_get_usage_decreases(UcvFakeCore *self, const gchar *job_id);
/* The sum of units × periods over the distinct chargeIds accepted for the job. */
gint64 ucv_fake_core_get_charged(UcvFakeCore *self, const gchar *job_id);
/* Distinct chargeIds accepted (charged) for the job. */
guint ucv_fake_core_get_charges(UcvFakeCore *self, const gchar *job_id);
/* chargeIds sent again for the job after they were accepted (answered as duplicateCharges). */
guint ucv_fake_core_get_repeated_charges(UcvFakeCore *self, const gchar *job_id);
/* HTTP calls with a valid token to either accounting endpoint, refused ones included. */
guint ucv_fake_core_get_usage_calls(UcvFakeCore *self);

G_END_DECLS
