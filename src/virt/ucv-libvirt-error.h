/* libvirt's errors as the project's GErrors, and kept off stderr. */
#pragma once

#include <glib.h>

#include "model/ucv-error.h"

G_BEGIN_DECLS

/* Sends libvirt's error reports to g_debug() instead of stderr; call once, before connecting. */
void ucv_libvirt_error_install_handler(void);

/* The code of the calling thread's last libvirt error, or VIR_ERR_OK. */
int ucv_libvirt_error_code(void);

/* Sets "<what>: <libvirt's message>" for the calling thread's last libvirt error. */
void ucv_set_libvirt_error(GError **error, UcvError code, const gchar *format, ...)
	G_GNUC_PRINTF(3, 4);

G_END_DECLS
