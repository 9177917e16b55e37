/* Every job's open console sessions, so that they end with the job: interactive ones (displays,
 * terminals) when it stops running, log follows when it ends for good. */
#pragma once

#include <glib-object.h>

#include "console/ucv-console-session.h"

G_BEGIN_DECLS

typedef enum {
	UCV_CONSOLE_INTERACTIVE, /* ends when the job is suspended or ends */
	UCV_CONSOLE_FOLLOW,      /* survives suspend; ends when the job ends */
} UcvConsoleKind;

#define UCV_TYPE_CONSOLE_HUB (ucv_console_hub_get_type())
G_DECLARE_FINAL_TYPE(UcvConsoleHub, ucv_console_hub, UCV, CONSOLE_HUB, GObject)

UcvConsoleHub *ucv_console_hub_new(void);
/* Keeps the session until it finishes, then lets it go. */
void ucv_console_hub_add(UcvConsoleHub *self, const gchar *job_id, UcvConsoleKind kind,
			 UcvConsoleSession *session);
/* Stops every session of `kind` of the job, telling each client `reason`. */
void ucv_console_hub_stop_job(UcvConsoleHub *self, const gchar *job_id, UcvConsoleKind kind,
			      const gchar *reason);
guint ucv_console_hub_count(UcvConsoleHub *self, const gchar *job_id, UcvConsoleKind kind);
typedef gboolean (*UcvConsoleMatchFunc)(UcvConsoleSession *session, gpointer user_data);
/* The job's first unfinished session of `kind` that `match` accepts, or NULL (borrowed). */
UcvConsoleSession *ucv_console_hub_find(UcvConsoleHub *self, const gchar *job_id,
					UcvConsoleKind kind, UcvConsoleMatchFunc match,
					gpointer user_data);

G_END_DECLS
