/* Refusing a request before its body is read: answer at once, then close the connection. */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Pauses `msg`, takes its connection over from libsoup, writes the error as a CommonErrorMessage
 * with "Connection: close", and discards (never stores) what the client still sends for a short
 * while so that it gets to read the answer. Safe to call from got-headers and got-chunk. */
void ucv_http_reject_now(SoupServerMessage *msg, const GError *error);

G_END_DECLS
