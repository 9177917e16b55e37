/* The console session interface and its one signal. */
#define G_LOG_DOMAIN "ucv-console"

#include "config.h"

#include "ucv-console-session.h"

G_DEFINE_INTERFACE(UcvConsoleSession, ucv_console_session, G_TYPE_OBJECT)

static guint finished_signal;

static void
ucv_console_session_default_init(UcvConsoleSessionInterface *iface)
{
	finished_signal = g_signal_new("finished", G_TYPE_FROM_INTERFACE(iface), G_SIGNAL_RUN_LAST,
				       0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

void
ucv_console_session_stop(UcvConsoleSession *self, const gchar *reason)
{
	g_return_if_fail(UCV_IS_CONSOLE_SESSION(self));
	UCV_CONSOLE_SESSION_GET_IFACE(self)->stop(self, reason);
}

gboolean
ucv_console_session_is_finished(UcvConsoleSession *self)
{
	g_return_val_if_fail(UCV_IS_CONSOLE_SESSION(self), TRUE);
	return UCV_CONSOLE_SESSION_GET_IFACE(self)->is_finished(self);
}

void
ucv_console_session_emit_finished(UcvConsoleSession *self)
{
	g_signal_emit(self, finished_signal, 0);
}
