/* field_error.h - how a rule check names what broke: the field's path as the
 * client wrote it ("address.phone") and a sentence a client author can act on. */
#ifndef LG_LIVEGATE_FIELD_ERROR_H
#define LG_LIVEGATE_FIELD_ERROR_H

struct lg_field_error {
    char field[48];
    char message[192];
};

#endif
