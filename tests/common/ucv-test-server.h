/* An in-process UcvServer for tests, its engine on libvirt's test driver, and a client session. */
#pragma once

#include <libsoup/soup.h>

#include "api/ucv-server.h"
#include "engine/ucv-engine.h"
#include "engine/ucv-store.h"
#include "ucloud/ucv-core-client.h"
#include "ucv-test-signer.h"
#include "virt/ucv-hypervisor.h"

G_BEGIN_DECLS

typedef struct {
	gchar *tmp_dir;
	UcvConfig *config;
	UcvStore *store;
	UcvHypervisor *hypervisor;
	UcvCoreClient *core;
	UcvEngine *engine;
	UcvTokenVerifier *verifier;
	UcvServer *server;
	SoupSession *session;
	gchar *base;  /* "http://127.0.0.1:<port>" */
	gchar *token; /* a bearer token as Core mints it */
} UcvTestServer;

/* Makes a temporary state directory from `tmp_template` and a config listening on a free loopback
 * port, for the test to adjust before ucv_test_server_start(). */
void ucv_test_server_prepare(UcvTestServer *s, const gchar *tmp_template);

/* Starts the engine (Core unreachable) and the server, trusting tokens of `core_signer`. */
void ucv_test_server_start(UcvTestServer *s, GPtrArray *products, UcvTestSigner *core_signer);

/* Stops everything, waits for the engine's background work to let go, removes the directory. */
void ucv_test_server_stop(UcvTestServer *s);

G_END_DECLS
