/* keyflash.c - the photon end of the input-to-photon benchmark (bench/stream-paths.ts).
 *
 * A W x H override-redirect window at (X, Y), above everything, that holds the keyboard (a grab, so
 * the desktop's window manager and terminal cannot take the keys) and flips between black and white
 * on every KeyPress, flushing at once: the first frame that shows the new colour is the photon.
 * It prints "keyflash ready" once the grab holds.
 *
 * usage: keyflash X Y W H
 * build: cc -O2 -o keyflash keyflash.c -lxcb
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <xcb/xcb.h>

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: keyflash X Y W H\n");
    return 2;
  }
  int x = atoi(argv[1]), y = atoi(argv[2]), w = atoi(argv[3]), h = atoi(argv[4]);
  xcb_connection_t *c = xcb_connect(NULL, NULL);
  if (xcb_connection_has_error(c)) {
    fprintf(stderr, "keyflash: cannot open the display\n");
    return 1;
  }
  xcb_screen_t *s = xcb_setup_roots_iterator(xcb_get_setup(c)).data;
  xcb_window_t win = xcb_generate_id(c);
  uint32_t values[] = {s->black_pixel, 1, XCB_EVENT_MASK_KEY_PRESS | XCB_EVENT_MASK_EXPOSURE};
  xcb_create_window(c, XCB_COPY_FROM_PARENT, win, s->root, x, y, w, h, 0, XCB_WINDOW_CLASS_INPUT_OUTPUT, s->root_visual,
                    XCB_CW_BACK_PIXEL | XCB_CW_OVERRIDE_REDIRECT | XCB_CW_EVENT_MASK, values);
  xcb_map_window(c, win);
  uint32_t top = XCB_STACK_MODE_ABOVE;
  xcb_configure_window(c, win, XCB_CONFIG_WINDOW_STACK_MODE, &top);
  xcb_gcontext_t gc = xcb_generate_id(c);
  uint32_t fg = s->white_pixel;
  xcb_create_gc(c, gc, win, XCB_GC_FOREGROUND, &fg);
  xcb_flush(c);

  /* the grab can fail while another client holds one for a moment; retry for up to 5 s */
  for (int i = 0;; i++) {
    xcb_grab_keyboard_reply_t *r = xcb_grab_keyboard_reply(c, xcb_grab_keyboard(c, 1, win, XCB_CURRENT_TIME, XCB_GRAB_MODE_ASYNC, XCB_GRAB_MODE_ASYNC), NULL);
    int ok = r && r->status == XCB_GRAB_STATUS_SUCCESS;
    free(r);
    if (ok) break;
    if (i == 50) {
      fprintf(stderr, "keyflash: cannot grab the keyboard\n");
      return 1;
    }
    usleep(100000);
  }
  printf("keyflash ready\n");
  fflush(stdout);

  int white = 0;
  xcb_rectangle_t all = {0, 0, (uint16_t)w, (uint16_t)h};
  xcb_generic_event_t *e;
  while ((e = xcb_wait_for_event(c))) {
    uint8_t type = e->response_type & ~0x80;
    if (type == XCB_KEY_PRESS) white = !white;
    if (type == XCB_KEY_PRESS || type == XCB_EXPOSE) {
      if (white) xcb_poly_fill_rectangle(c, win, gc, 1, &all);
      else xcb_clear_area(c, 0, win, 0, 0, 0, 0);
      /* stay on top of the clock's full-screen window */
      xcb_configure_window(c, win, XCB_CONFIG_WINDOW_STACK_MODE, &top);
      xcb_flush(c);
    }
    free(e);
  }
  return 0;
}
