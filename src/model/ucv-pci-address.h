/* PCI addresses of host devices (GPUs) as site admins write them: 0000:3b:00.0. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	guint domain;   /* 16 bits */
	guint bus;      /* 8 bits */
	guint slot;     /* 5 bits */
	guint function; /* 3 bits */
} UcvPciAddress;

/* Parses domain:bus:slot.function (hexadecimal, exactly 4:2:2.1 digits). */
gboolean ucv_pci_address_parse(const gchar *text, UcvPciAddress *address, GError **error);

G_END_DECLS
