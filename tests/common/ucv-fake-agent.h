/* The container host's agent played by a test, and loop helpers for the tests that drive it. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _UcvFakeAgent UcvFakeAgent;

/* The agent's end of a new socket pair; the host's end is ucv_fake_agent_get_host_stream(). */
UcvFakeAgent *ucv_fake_agent_new(void);
/* `host_sndbuf` is the host end's SO_SNDBUF; 0 keeps the system's. */
UcvFakeAgent *ucv_fake_agent_new_full(gint host_sndbuf);
void ucv_fake_agent_free(UcvFakeAgent *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvFakeAgent, ucv_fake_agent_free)

/* Owned by the fake agent, for the code under test to talk over. */
GIOStream *ucv_fake_agent_get_host_stream(UcvFakeAgent *self);

/* Writes all of `data`; small writes fit the socket buffer, so they never wait on the loop. */
void ucv_fake_agent_write(UcvFakeAgent *self, const guint8 *data, gsize len);
/* A frame as the agent's encoder writes it. */
void ucv_fake_agent_append_frame(GByteArray *out, guint8 type, guint32 channel, const void *payload,
				 gsize len);
void ucv_fake_agent_write_frame(UcvFakeAgent *self, guint8 type, guint32 channel,
				const void *payload, gsize len);
/* Shuts down the agent's sending side: the host reads EOF. */
void ucv_fake_agent_hang_up(UcvFakeAgent *self);

/* A frame the host wrote, as the agent's own decoder read it. */
typedef struct {
	guint8 type;
	guint32 channel;
	GBytes *payload;
} UcvFakeAgentFrame;

void ucv_fake_agent_frame_free(UcvFakeAgentFrame *frame);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvFakeAgentFrame, ucv_fake_agent_frame_free)

/* The readers run the default main context until the host has written enough. */
UcvFakeAgentFrame *ucv_fake_agent_read_frame(UcvFakeAgent *self);
void ucv_fake_agent_expect_frame(UcvFakeAgent *self, guint8 type, guint32 channel,
				 const void *payload, gsize len);
/* The next bytes exactly, however they are framed. */
void ucv_fake_agent_expect_bytes(UcvFakeAgent *self, const guint8 *expected, gsize len);
/* The host closed its end. */
void ucv_fake_agent_expect_eof(UcvFakeAgent *self);
/* Nothing more was written by the time the loop has run dry. */
void ucv_fake_agent_expect_nothing(UcvFakeAgent *self);

/* Runs what is ready, so that whatever should not happen would have by now. */
void ucv_test_settle(void);
/* Fails the test after `seconds` instead of waiting for the harness to kill it; returns the
 * source to remove once the test is done. */
guint ucv_test_add_watchdog(guint seconds);

/* Drops the last reference to `object` and runs the loop until it is finalized, which proves
 * that nothing in flight still holds it. */
void ucv_test_unref_and_wait(gpointer object);

/* Event logs: what the code under test emitted, as strings, in order. */
void ucv_test_events_wait(GPtrArray *events, guint n);
/* Exactly `expected` (NULL-terminated), and nothing more once the loop has run dry. */
void ucv_test_events_assert(GPtrArray *events, const gchar *const *expected);

/* A GAsyncReadyCallback that keeps the result in the `GAsyncResult *` at `user_data`. */
void ucv_test_store_result_cb(GObject *source, GAsyncResult *res, gpointer user_data);
/* Runs the loop until ucv_test_store_result_cb() has filled `slot`. */
GAsyncResult *ucv_test_wait_result(GAsyncResult **slot);

G_END_DECLS
