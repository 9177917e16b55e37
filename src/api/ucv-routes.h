/* The route table: each provider API call, its handler and whether it needs a token. */
#pragma once

#include <json-glib/json-glib.h>

#include "console/ucv-session-tokens.h"
#include "engine/ucv-config.h"
#include "engine/ucv-engine.h"

G_BEGIN_DECLS

typedef struct _UcvRoute UcvRoute;

/* What a handler gets: the engine, the configuration, its route and the parsed body. */
typedef struct {
	UcvEngine *engine;
	const UcvConfig *config;
	const UcvRoute *route;
	JsonNode *body;             /* NULL when the request had no body */
	UcvSessionTokens *sessions; /* tokens for the browser's console sockets */
} UcvApiRequest;

/* Returns the response body, or NULL with `error` set (converted to HTTP by the server). */
typedef JsonNode *(*UcvRouteHandler)(UcvApiRequest *request, GError **error);

struct _UcvRoute {
	const gchar *method;
	const gchar *path; /* "{id}" stands for the provider id */
	UcvRouteHandler handler;
	gboolean auth; /* needs Core's bearer token */
};

/* The routes of one provider id, looked up by exact path. */
typedef struct _UcvRouteTable UcvRouteTable;

UcvRouteTable *ucv_route_table_new(const gchar *provider_id);
void ucv_route_table_free(UcvRouteTable *self);
/* The route for `method` on `path`, or NULL; then *path_known says whether the path exists with
 * another method (405) or not at all (404). */
const UcvRoute *ucv_route_table_lookup(UcvRouteTable *self, const gchar *method, const gchar *path,
				       gboolean *path_known);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvRouteTable, ucv_route_table_free)

G_END_DECLS
