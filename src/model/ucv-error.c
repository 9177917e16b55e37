/* The project's one error domain. */
#include "config.h"

#include "ucv-error.h"

G_DEFINE_QUARK(ucloud_virt_error, ucv_error)
