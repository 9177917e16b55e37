/* The open display sessions of every job, so that all of a job's close when it stops running. */
#pragma once

#include <glib-object.h>

#include "console/ucv-vnc-proxy.h"

G_BEGIN_DECLS

#define UCV_TYPE_CONSOLE_HUB (ucv_console_hub_get_type())
G_DECLARE_FINAL_TYPE(UcvConsoleHub, ucv_console_hub, UCV, CONSOLE_HUB, GObject)

UcvConsoleHub *ucv_console_hub_new(void);
/* Keeps the session until it finishes, then lets it go. */
void ucv_console_hub_add(UcvConsoleHub *self, const gchar *job_id, UcvVncProxy *session);
/* Ends every session of the job, telling each browser `reason` (going away). */
void ucv_console_hub_close_job(UcvConsoleHub *self, const gchar *job_id, const gchar *reason);
guint ucv_console_hub_count(UcvConsoleHub *self, const gchar *job_id);

G_END_DECLS
