/* QR codes in the terminal (libqrencode), for `wfmctl enrollment create --qr`. */
#include <stdio.h>

#include <qrencode.h>

#include "wfmctl.h"

#define QR_MARGIN 2

/* 1 when module (x, y) of the symbol with its margin is dark. */
static int dark(const QRcode *q, int x, int y)
{
	x -= QR_MARGIN;
	y -= QR_MARGIN;
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return 0;
	return q->data[y * q->width + x] & 1;
}

int wfmctl_qr_print(FILE *f, const char *text)
{
	/* two modules per character cell, light drawn (for the usual dark terminal), like
	 * `qrencode -t UTF8` */
	static const char *const cell[4] = { "\u2588", "\u2580", "\u2584", " " };
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	int size;

	if (q == NULL)
		return -1;
	size = q->width + 2 * QR_MARGIN;
	for (int y = 0; y < size; y += 2) {
		for (int x = 0; x < size; x++)
			fputs(cell[dark(q, x, y) << 1 | dark(q, x, y + 1)], f);
		fputc('\n', f);
	}
	QRcode_free(q);
	return 0;
}
