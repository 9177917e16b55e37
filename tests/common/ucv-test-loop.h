/* Running the main loop in tests: until a condition holds, for a while, until an object is gone. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Asks a test's fixture whether what it waits for has happened. */
typedef gboolean (*UcvTestCondition)(gpointer fixture, gconstpointer data);

/* Runs the loop until `cond` holds; fails the test after `timeout_ms`, naming `what`. */
void ucv_test_loop_wait_until(UcvTestCondition cond, gpointer fixture, gconstpointer data,
			      guint timeout_ms, const gchar *what);

/* Runs the loop for `ms`, so that anything that should not happen has its chance. */
void ucv_test_loop_spin(guint ms);

/* Drops the reference in `*object` and runs the loop until the object is finalized, which
 * background work holding its own references may delay; fails the test after `timeout_ms`. */
void ucv_test_loop_release(gpointer object, guint timeout_ms);

G_END_DECLS
