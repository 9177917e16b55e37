/* The project's one error domain, shared by every layer. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define UCV_ERROR (ucv_error_quark())

typedef enum {
	UCV_ERROR_FAILED,        /* internal trouble; Core hides the text from users */
	UCV_ERROR_INVALID,       /* the request is malformed or asks for something impossible */
	UCV_ERROR_NOT_FOUND,     /* the named job, product or file does not exist */
	UCV_ERROR_NOT_SUPPORTED, /* a call or feature this build does not offer (yet) */
	UCV_ERROR_UNAUTHORIZED,  /* missing or bad credentials */
	UCV_ERROR_TOO_LARGE,     /* a request body over the limit */
	UCV_ERROR_PAYMENT_REQUIRED,
	UCV_ERROR_CONFIG,      /* the configuration cannot be used */
	UCV_ERROR_LIBVIRT,     /* libvirt refused or failed an operation */
	UCV_ERROR_UNAVAILABLE, /* a peer (Core, libvirtd) cannot be reached right now */
} UcvError;

GQuark ucv_error_quark(void);

G_END_DECLS
