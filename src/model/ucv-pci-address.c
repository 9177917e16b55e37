/* PCI addresses of host devices (GPUs) as site admins write them: 0000:3b:00.0. */
#include "config.h"

#include "ucv-pci-address.h"

#include "model/ucv-error.h"

static gboolean
parse_hex(const gchar *text, gsize len, guint max, guint *value)
{
	guint64 parsed = 0;
	g_autofree gchar *part = g_strndup(text, len);

	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isxdigit(part[i]))
			return FALSE;
	}
	if (!g_ascii_string_to_unsigned(part, 16, 0, max, &parsed, NULL))
		return FALSE;
	*value = (guint)parsed;
	return TRUE;
}

gboolean
ucv_pci_address_parse(const gchar *text, UcvPciAddress *address, GError **error)
{
	UcvPciAddress parsed = {0};

	if (text != NULL && strlen(text) == 12 && text[4] == ':' && text[7] == ':' &&
	    text[10] == '.' && parse_hex(text, 4, 0xffff, &parsed.domain) &&
	    parse_hex(text + 5, 2, 0xff, &parsed.bus) &&
	    parse_hex(text + 8, 2, 0x1f, &parsed.slot) &&
	    parse_hex(text + 11, 1, 7, &parsed.function)) {
		*address = parsed;
		return TRUE;
	}
	g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
		    "'%s' is not a PCI address like 0000:3b:00.0", text != NULL ? text : "");
	return FALSE;
}
