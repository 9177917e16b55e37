/* Image layers the tests make: gzipped tars written entry by entry in memory. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _UcvTestLayer UcvTestLayer;

UcvTestLayer *ucv_test_layer_new(void);
/* A regular file (0644) or a symbolic link at `path`, taken as given (hostile paths too). */
void ucv_test_layer_add_file(UcvTestLayer *self, const gchar *path, const gchar *contents);
void ucv_test_layer_add_symlink(UcvTestLayer *self, const gchar *path, const gchar *target);
/* The layer's bytes; frees the builder. */
GBytes *ucv_test_layer_finish(UcvTestLayer *self);

/* A layer holding one file. */
GBytes *ucv_test_layer_with_file(const gchar *path, const gchar *contents);

G_END_DECLS
