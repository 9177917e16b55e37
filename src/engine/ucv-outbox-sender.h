/* Drains the store's outbox to Core's jobs/control/update, in order, with backoff. */
#pragma once

#include <gio/gio.h>

#include "engine/ucv-store.h"
#include "ucloud/ucv-core-client.h"

G_BEGIN_DECLS

#define UCV_TYPE_OUTBOX_SENDER (ucv_outbox_sender_get_type())
G_DECLARE_FINAL_TYPE(UcvOutboxSender, ucv_outbox_sender, UCV, OUTBOX_SENDER, GObject)

UcvOutboxSender *ucv_outbox_sender_new(UcvStore *store, UcvCoreClient *client);
/* New rows were written: deliver them (no-op while a delivery or a backoff is in progress). */
void ucv_outbox_sender_kick(UcvOutboxSender *self);
/* Backoff bounds in milliseconds (tests shorten them). Defaults 500 ms .. 30 s. */
void ucv_outbox_sender_set_backoff(UcvOutboxSender *self, guint initial_ms, guint max_ms);

/* Signal "idle" () — the outbox is empty. */

G_END_DECLS
