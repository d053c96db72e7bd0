/* Small string helpers shared by the configuration file parsers. */
#ifndef MARGO_TEXT_H
#define MARGO_TEXT_H

/* Trims ASCII white space in place: returns s advanced past leading space, with trailing
 * space overwritten by NULs. */
char *margo_text_trim(char *s);

#endif
