/* The terminal interface, its two signals and its dispatchers. */
#define G_LOG_DOMAIN "ucv-virt"

#include "config.h"

#include "ucv-terminal.h"

G_DEFINE_INTERFACE(UcvTerminal, ucv_terminal, G_TYPE_OBJECT)

enum { SIGNAL_OUTPUT, SIGNAL_CLOSED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
ucv_terminal_default_init(UcvTerminalInterface *iface)
{
	signals[SIGNAL_OUTPUT] =
		g_signal_new("output", G_TYPE_FROM_INTERFACE(iface), G_SIGNAL_RUN_LAST, 0, NULL,
			     NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BYTES);
	signals[SIGNAL_CLOSED] =
		g_signal_new("closed", G_TYPE_FROM_INTERFACE(iface), G_SIGNAL_RUN_LAST, 0, NULL,
			     NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

void
ucv_terminal_write_async(UcvTerminal *self, GBytes *data, GCancellable *cancellable,
			 GAsyncReadyCallback callback, gpointer user_data)
{
	g_return_if_fail(UCV_IS_TERMINAL(self));
	g_return_if_fail(data != NULL);
	UCV_TERMINAL_GET_IFACE(self)->write_async(self, data, cancellable, callback, user_data);
}

gboolean
ucv_terminal_write_finish(UcvTerminal *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(UCV_IS_TERMINAL(self), FALSE);
	return UCV_TERMINAL_GET_IFACE(self)->write_finish(self, res, error);
}

void
ucv_terminal_resize(UcvTerminal *self, guint16 cols, guint16 rows)
{
	UcvTerminalInterface *iface;

	g_return_if_fail(UCV_IS_TERMINAL(self));

	iface = UCV_TERMINAL_GET_IFACE(self);
	if (iface->resize == NULL || cols == 0 || rows == 0)
		return;
	iface->resize(self, cols, rows);
}

void
ucv_terminal_close(UcvTerminal *self)
{
	g_return_if_fail(UCV_IS_TERMINAL(self));
	UCV_TERMINAL_GET_IFACE(self)->close(self);
}

void
ucv_terminal_emit_output(UcvTerminal *self, GBytes *data)
{
	g_signal_emit(self, signals[SIGNAL_OUTPUT], 0, data);
}

void
ucv_terminal_emit_closed(UcvTerminal *self, const gchar *why)
{
	g_signal_emit(self, signals[SIGNAL_CLOSED], 0, why);
}
