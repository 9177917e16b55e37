/* Running the main loop in tests: until a condition holds, for a while, until an object is gone. */
#include "config.h"

#include "ucv-test-loop.h"

/* keeps the loop waking up, so that a deadline is looked at even when nothing happens */
static gboolean
wake_cb(gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

void
ucv_test_loop_wait_until(UcvTestCondition cond, gpointer fixture, gconstpointer data,
			 guint timeout_ms, const gchar *what)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;
	guint wake_id = g_timeout_add(20, wake_cb, NULL);

	while (!cond(fixture, data)) {
		if (g_get_monotonic_time() > deadline)
			g_error("timed out after %u ms waiting for %s", timeout_ms, what);
		g_main_context_iteration(NULL, TRUE);
	}
	g_source_remove(wake_id);
}

static gboolean
flag_cb(gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
	return G_SOURCE_REMOVE;
}

void
ucv_test_loop_spin(guint ms)
{
	gboolean done = FALSE;

	g_timeout_add(ms, flag_cb, &done);
	while (!done)
		g_main_context_iteration(NULL, TRUE);
}

void
ucv_test_loop_release(gpointer object, guint timeout_ms)
{
	GObject **slot = object;
	GObject *gone = *slot;
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;
	guint wake_id = g_timeout_add(20, wake_cb, NULL);

	g_object_add_weak_pointer(gone, (gpointer *)&gone);
	g_clear_object(slot);
	while (gone != NULL && g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	g_assert_null(gone);
	g_source_remove(wake_id);
}
