/* request.c -- placeholder */
