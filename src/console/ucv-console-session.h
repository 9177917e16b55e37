/* What every browser-facing console session (a VNC viewer, a shared serial console, a log
 * follow) offers the hub that ends them with their job. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define UCV_TYPE_CONSOLE_SESSION (ucv_console_session_get_type())
G_DECLARE_INTERFACE(UcvConsoleSession, ucv_console_session, UCV, CONSOLE_SESSION, GObject)

/* Signal "finished" () — once, however the session ended. */
struct _UcvConsoleSessionInterface {
	GTypeInterface parent_iface;

	/* Ends the session, telling its clients `reason`; "finished" follows. */
	void (*stop)(UcvConsoleSession *self, const gchar *reason);
	gboolean (*is_finished)(UcvConsoleSession *self);
};

void ucv_console_session_stop(UcvConsoleSession *self, const gchar *reason);
gboolean ucv_console_session_is_finished(UcvConsoleSession *self);
/* For implementations: emits "finished". */
void ucv_console_session_emit_finished(UcvConsoleSession *self);

G_END_DECLS
