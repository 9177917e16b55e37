/* libvirt's errors as the project's GErrors, and kept off stderr. */
#define G_LOG_DOMAIN "ucv-virt"

#include "config.h"

#include "ucv-libvirt-error.h"

#include <libvirt/virterror.h>

/* libvirt would print every error to stderr; callers get them as GErrors instead. */
static void
ucv_libvirt_error_func(void *user_data, virErrorPtr err)
{
	if (err != NULL && err->message != NULL)
		g_debug("libvirt: %s", err->message);
}

void
ucv_libvirt_error_install_handler(void)
{
	virSetErrorFunc(NULL, ucv_libvirt_error_func);
}

int
ucv_libvirt_error_code(void)
{
	virErrorPtr err = virGetLastError();

	return err != NULL ? err->code : VIR_ERR_OK;
}

void
ucv_set_libvirt_error(GError **error, UcvError code, const gchar *format, ...)
{
	virErrorPtr err = virGetLastError();
	const gchar *msg = err != NULL && err->message != NULL ? err->message : "unknown error";
	g_autofree gchar *what = NULL;
	va_list args;

	va_start(args, format);
	what = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error(error, UCV_ERROR, code, "%s: %s", what, msg);
}
