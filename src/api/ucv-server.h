/* The HTTP face of the provider: one route table for every call of UCloud's provider API. */
#pragma once

#include <gio/gio.h>

#include "api/ucv-token-verifier.h"
#include "engine/ucv-config.h"
#include "engine/ucv-engine.h"

G_BEGIN_DECLS

#define UCV_TYPE_SERVER (ucv_server_get_type())
G_DECLARE_FINAL_TYPE(UcvServer, ucv_server, UCV, SERVER, GObject)

/* `config` is borrowed and must outlive the server. */
UcvServer *ucv_server_new(const UcvConfig *config, UcvEngine *engine, UcvTokenVerifier *verifier);
/* Listens on every [http] listen address; fails (e.g. port in use) with a one-line reason. */
gboolean ucv_server_listen(UcvServer *self, GError **error);
/* The port of the first listening socket (useful after listening on port 0), or 0. */
guint16 ucv_server_get_port(UcvServer *self);
void ucv_server_disconnect(UcvServer *self);

G_END_DECLS
