/* A shell channel of an agent channel. The agent channel emits every shell's frames; each shell
 * keeps those of its own number and forgets the channel once either side ended it. */
#define G_LOG_DOMAIN "ucv-container"

#include "config.h"

#include "ucv-agent-shell.h"

#include <glib/gi18n.h>

struct _UcvAgentShell {
	GObject parent_instance;
	UcvAgentChannel *channel;
	guint number;
	gboolean open;
	gulong data_id, shell_closed_id, closed_id;
	guint closed_idle; /* reports a channel that was closed before the shell opened */
};

static void ucv_agent_shell_terminal_init(UcvTerminalInterface *iface);

G_DEFINE_TYPE_WITH_CODE(UcvAgentShell, ucv_agent_shell, G_TYPE_OBJECT,
			G_IMPLEMENT_INTERFACE(UCV_TYPE_TERMINAL, ucv_agent_shell_terminal_init))

static void
disconnect(UcvAgentShell *self)
{
	g_clear_signal_handler(&self->data_id, self->channel);
	g_clear_signal_handler(&self->shell_closed_id, self->channel);
	g_clear_signal_handler(&self->closed_id, self->channel);
	g_clear_handle_id(&self->closed_idle, g_source_remove);
}

/* The far end ended the shell: tell the owner, once. */
static void
ended(UcvAgentShell *self, const gchar *why)
{
	g_autoptr(UcvAgentShell) keep = g_object_ref(self);

	if (!self->open)
		return;
	self->open = FALSE;
	disconnect(self);
	g_debug("shell %u ended: %s", self->number, why != NULL ? why : "it exited");
	ucv_terminal_emit_closed(UCV_TERMINAL(self), why);
}

static void
on_shell_data(UcvAgentChannel *channel, guint number, GBytes *data, UcvAgentShell *self)
{
	if (number == self->number)
		ucv_terminal_emit_output(UCV_TERMINAL(self), data);
}

static void
on_shell_closed(UcvAgentChannel *channel, guint number, UcvAgentShell *self)
{
	if (number == self->number)
		ended(self, NULL);
}

static void
on_channel_closed(UcvAgentChannel *channel, const gchar *reason, UcvAgentShell *self)
{
	g_autofree gchar *why =
		reason != NULL
			? g_strdup_printf(_("the container host broke the connection: %s"), reason)
			: g_strdup(_("the container host went away"));

	ended(self, why);
}

static gboolean
on_closed_idle(gpointer user_data)
{
	UcvAgentShell *self = user_data;

	self->closed_idle = 0;
	ended(self, _("the container host went away"));
	return G_SOURCE_REMOVE;
}

UcvAgentShell *
ucv_agent_shell_new(UcvAgentChannel *channel, guint channel_number, guint32 uid, guint16 cols,
		    guint16 rows)
{
	UcvAgentShell *self;

	g_return_val_if_fail(UCV_IS_AGENT_CHANNEL(channel), NULL);
	g_return_val_if_fail(channel_number != 0, NULL);

	self = g_object_new(UCV_TYPE_AGENT_SHELL, NULL);
	self->channel = g_object_ref(channel);
	self->number = channel_number;
	self->open = TRUE;
	if (ucv_agent_channel_is_closed(channel)) {
		self->closed_idle = g_idle_add(on_closed_idle, self);
		return self;
	}
	self->data_id = g_signal_connect(channel, "shell-data", G_CALLBACK(on_shell_data), self);
	self->shell_closed_id =
		g_signal_connect(channel, "shell-closed", G_CALLBACK(on_shell_closed), self);
	self->closed_id = g_signal_connect(channel, "closed", G_CALLBACK(on_channel_closed), self);
	ucv_agent_channel_open_shell(channel, channel_number, uid, cols, rows);
	return self;
}

void
ucv_agent_shell_close(UcvAgentShell *self)
{
	g_return_if_fail(UCV_IS_AGENT_SHELL(self));

	if (!self->open)
		return;
	self->open = FALSE;
	disconnect(self);
	ucv_agent_channel_close_shell(self->channel, self->number);
}

gboolean
ucv_agent_shell_is_open(UcvAgentShell *self)
{
	g_return_val_if_fail(UCV_IS_AGENT_SHELL(self), FALSE);
	return self->open;
}

guint
ucv_agent_shell_get_channel_number(UcvAgentShell *self)
{
	g_return_val_if_fail(UCV_IS_AGENT_SHELL(self), 0);
	return self->number;
}

static void
on_data_sent(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;

	if (!ucv_agent_channel_send_data_finish(UCV_AGENT_CHANNEL(source), res, &error)) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_boolean(task, TRUE);
}

static void
terminal_write_async(UcvTerminal *terminal, GBytes *data, GCancellable *cancellable,
		     GAsyncReadyCallback callback, gpointer user_data)
{
	UcvAgentShell *self = UCV_AGENT_SHELL(terminal);
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);

	g_task_set_source_tag(task, terminal_write_async);
	if (!self->open) {
		g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_CLOSED, "shell %u is closed",
					self->number);
		return;
	}
	if (g_bytes_get_size(data) == 0) {
		g_task_return_boolean(task, TRUE);
		return;
	}
	ucv_agent_channel_send_data_async(self->channel, self->number, data, cancellable,
					  on_data_sent, g_steal_pointer(&task));
}

static gboolean
terminal_write_finish(UcvTerminal *terminal, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, terminal), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}

static void
terminal_resize(UcvTerminal *terminal, guint16 cols, guint16 rows)
{
	UcvAgentShell *self = UCV_AGENT_SHELL(terminal);

	if (self->open)
		ucv_agent_channel_resize(self->channel, self->number, cols, rows);
}

static void
terminal_close(UcvTerminal *terminal)
{
	ucv_agent_shell_close(UCV_AGENT_SHELL(terminal));
}

static void
ucv_agent_shell_terminal_init(UcvTerminalInterface *iface)
{
	iface->write_async = terminal_write_async;
	iface->write_finish = terminal_write_finish;
	iface->resize = terminal_resize;
	iface->close = terminal_close;
}

static void
ucv_agent_shell_dispose(GObject *object)
{
	UcvAgentShell *self = UCV_AGENT_SHELL(object);

	/* a shell nobody holds any more would run on in the container */
	if (self->channel != NULL)
		ucv_agent_shell_close(self);
	if (self->channel != NULL)
		disconnect(self);
	g_clear_object(&self->channel);
	G_OBJECT_CLASS(ucv_agent_shell_parent_class)->dispose(object);
}

static void
ucv_agent_shell_class_init(UcvAgentShellClass *klass)
{
	G_OBJECT_CLASS(klass)->dispose = ucv_agent_shell_dispose;
}

static void
ucv_agent_shell_init(UcvAgentShell *self)
{
}
