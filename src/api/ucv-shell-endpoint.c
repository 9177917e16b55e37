/* The shell WebSocket. The session is redeemed before the upgrade (a refused browser gets an
 * HTTP error, not a socket); once the browser initializes, its viewer joins the machine's shared
 * serial console, which is opened for the first viewer and let go after the last, or, for a job
 * that runs in containers, gets a shell of its own inside the rank's container. */
#define G_LOG_DOMAIN "ucv-api"

#include "config.h"

#include "api/ucv-shell-endpoint.h"

#include "api/ucv-console-endpoint.h"
#include "api/ucv-http-error.h"
#include "api/ucv-ws-upgrade.h"
#include "console/ucv-container-shell.h"
#include "console/ucv-serial-console.h"
#include "console/ucv-shell-viewer.h"

/* Input frames are keystrokes and pastes; a paste of a whole file is the largest */
#define MAX_BROWSER_MESSAGE (1024 * 1024)

/* One admitted browser: what it may see, until its viewer has joined a console. */
typedef struct {
	UcvConsoleEndpoint *endpoint;
	UcvSessionGrant *grant;
	gchar *session;
} UcvShellAdmission;

static void
admission_free(UcvShellAdmission *admission)
{
	ucv_session_grant_free(admission->grant);
	g_free(admission->session);
	g_free(admission);
}

static gboolean
is_console_of_rank(UcvConsoleSession *session, gpointer rank)
{
	return UCV_IS_SERIAL_CONSOLE(session) &&
	       ucv_serial_console_get_rank(UCV_SERIAL_CONSOLE(session)) == GPOINTER_TO_UINT(rank);
}

static void
on_console_open(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvSerialConsole) console = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvConsoleStream) stream =
		ucv_engine_open_console_finish(UCV_ENGINE(source), res, &error);

	if (stream == NULL) {
		g_message("cannot open a serial console: %s", error->message);
		ucv_serial_console_fail(console, error->message);
		return;
	}
	ucv_serial_console_take_stream(console, stream);
}

/* The machine's shared console, opened now if nobody watches it yet. */
static UcvSerialConsole *
console_for(UcvConsoleEndpoint *self, const UcvSessionGrant *grant)
{
	UcvConsoleSession *found =
		ucv_console_hub_find(self->hub, grant->job_id, UCV_CONSOLE_INTERACTIVE,
				     is_console_of_rank, GUINT_TO_POINTER(grant->rank));
	g_autoptr(UcvSerialConsole) console = NULL;

	if (found != NULL)
		return UCV_SERIAL_CONSOLE(found);
	console = ucv_serial_console_new(grant->rank);
	ucv_console_hub_add(self->hub, grant->job_id, UCV_CONSOLE_INTERACTIVE,
			    UCV_CONSOLE_SESSION(console));
	ucv_engine_open_console_async(self->engine, grant->job_id, grant->rank, NULL,
				      on_console_open, g_object_ref(console));
	return console;
}

/* One shell per browser: terminals of a container share nothing. */
static void
open_container_shell(UcvConsoleEndpoint *self, const UcvSessionGrant *grant, UcvShellViewer *viewer)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvTerminal) shell = NULL;
	g_autoptr(UcvContainerShell) session = NULL;
	guint16 cols = 0;
	guint16 rows = 0;

	ucv_shell_viewer_get_size(viewer, &cols, &rows);
	shell = ucv_engine_open_container_shell(self->engine, grant->job_id, grant->rank, cols,
						rows, &error);
	if (shell == NULL) {
		ucv_shell_viewer_end(viewer, error->message);
		return;
	}
	session = ucv_container_shell_new(viewer, shell);
	ucv_console_hub_add(self->hub, grant->job_id, UCV_CONSOLE_INTERACTIVE,
			    UCV_CONSOLE_SESSION(session));
}

static void
on_viewer_initialized(UcvShellViewer *viewer, gpointer data)
{
	UcvShellAdmission *admission = data;
	UcvConsoleEndpoint *self = admission->endpoint;
	g_autoptr(GError) error = NULL;

	/* the job may have been suspended since the upgrade */
	if (!ucv_engine_check_console(self->engine, admission->grant->job_id,
				      admission->grant->rank, &error)) {
		ucv_shell_viewer_end(viewer, error->message);
		return;
	}
	if (ucv_engine_job_is_container(self->engine, admission->grant->job_id))
		open_container_shell(self, admission->grant, viewer);
	else
		ucv_serial_console_add_viewer(console_for(self, admission->grant), viewer);
	g_debug("job %s: shell of rank %u opened in a browser", admission->grant->job_id,
		admission->grant->rank);
}

static void
on_upgraded(UcvWsConnection *browser, gpointer data)
{
	UcvShellAdmission *admission = data;
	g_autoptr(UcvShellViewer) viewer = ucv_shell_viewer_new(browser, admission->session);

	/* the viewer keeps itself alive while its socket is open */
	g_signal_connect_data(viewer, "initialized", G_CALLBACK(on_viewer_initialized), admission,
			      (GClosureNotify)(void (*)(void))admission_free, 0);
	ucv_shell_viewer_start(viewer);
}

static void
on_request(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
	   gpointer user_data)
{
	UcvConsoleEndpoint *self = user_data;
	const gchar *session = query != NULL ? g_hash_table_lookup(query, "session") : NULL;
	g_autoptr(GError) error = NULL;
	UcvShellAdmission *admission;
	UcvSessionGrant *grant =
		ucv_console_endpoint_admit(self, msg, session, UCV_SESSION_SHELL, NULL, &error);

	if (grant == NULL) {
		g_debug("shell refused: %s", error->message);
		ucv_http_error_respond(msg, error);
		return;
	}
	admission = g_new0(UcvShellAdmission, 1);
	admission->endpoint = self;
	admission->grant = grant;
	admission->session = g_strdup(session);
	ucv_ws_upgrade_accept(msg, NULL, MAX_BROWSER_MESSAGE, on_upgraded, admission,
			      (GDestroyNotify)admission_free);
}

void
ucv_shell_endpoint_attach(SoupServer *soup, const UcvConfig *config, UcvEngine *engine,
			  UcvSessionTokens *tokens, UcvConsoleHub *hub)
{
	ucv_console_endpoint_serve(soup, UCV_SHELL_PATH_SUFFIX, on_request, config, engine, tokens,
				   hub);
}
