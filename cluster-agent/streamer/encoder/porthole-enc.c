/*
 * porthole-enc: an X display -> a video encoder -> RTP on stdout (RFC 4571 framing: each packet after
 * its 16-bit length), controlled on stdin. The streamer (cluster-agent/streamer) starts one per viewer
 * and forwards the RTP into WebRTC. A pipe, not a socket: it needs no network and no port.
 *
 * Capture is damage-driven: XDamage says when the screen changed, and only then is a frame taken
 * (MIT-SHM over a memfd, so it works across IPC namespaces; plain GetImage if SHM is refused), at most
 * --fps a second, and converted to I420 with libyuv in the same pass (videoconvert in the pipeline cost a
 * third more CPU and 1-2 ms a frame: measured). A still screen costs one small frame a second (a
 * heartbeat), a change is captured at once. Encoders are configured for latency: no lookahead, no
 * B-frames, sliced threads. AV1 is encoded with libaom directly (see "AV1" below): GStreamer 1.22's
 * av1enc ignores requests for a key frame, so a lost one was never repaired.
 *
 * build: cc -O2 -Wall -o porthole-enc porthole-enc.c \
 *          $(pkg-config --cflags --libs gstreamer-1.0 gstreamer-app-1.0 gstreamer-video-1.0 xcb xcb-shm xcb-damage aom) -lyuv
 * usage: porthole-enc --codec h264|vp8|vp9|av1 [--pt 96] [--ssrc N] [--bitrate KBPS] [--fps 60]
 *          [--encoder software|vaapi] [--mtu 1200] [--threads 2] [--heartbeat-ms 1000]
 *        DISPLAY (and XAUTHORITY) from the environment.
 * stdin, one command per line: bitrate N (kbit/s) | keyframe | fps N | stats | quit
 * stderr: "ready WxH codec impl", "ok ...", "error ...", "screen WxH" on a resize,
 *         "stats frames= fps= kbps= keyframes= idle=0|1 capture_ms= encode_ms=" once a second
 *         (capture_ms: taking a frame; encode_ms: from taking it to the encoder's output, mean).
 */
#define _GNU_SOURCE
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xcb/damage.h>
#include <xcb/shm.h>
#include <xcb/xcb.h>
#include <libyuv/convert.h>
#include <aom/aom_encoder.h>
#include <aom/aomcx.h>

static GstElement *pipeline, *enc, *appsrc;
static GMainLoop *loop;
static const char *codec = "h264", *encoder_kind = "software";
static xcb_connection_t *xc;
static xcb_window_t root;
static uint8_t damage_event;
static xcb_damage_damage_t damage;
static int width, height, fps = 60, heartbeat_ms = 1000;
/*
 * The shared segment (a memfd attached to the X server) frames are captured into. Each frame is
 * converted to I420 at once (to_i420), so one segment is enough: it is free before the next capture.
 */
#define SEGMENTS 1
typedef struct {
  int fd;
  uint8_t *data;
  xcb_shm_seg_t seg;
  gint busy; /* atomic; never set now that frames are converted out of the segment at once */
  guint generation;
} Segment;
static Segment segments[SEGMENTS];
static int shm_ok;
static size_t shm_size;
static gint shm_generation; /* atomic */
static gint64 t0, last_capture, last_stats;
static guint capture_timer;
static gboolean dirty = TRUE;
static guint64 frames, frames_last, bytes, bytes_last, keyframes;
static double capture_ms_sum;
static int capture_n;
/* capture -> encoded, matched in order (encoders shift PTS; there are no B-frames, no reordering) */
static gint64 pushed_at[64];
static guint64 pushed_wr, pushed_rd;
static double encode_ms_sum;
static int encode_n;

static void say(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* ---- capture ------------------------------------------------------------------------------- */

static void shm_release(void) {
  for (int i = 0; i < SEGMENTS; i++) {
    Segment *g = &segments[i];
    if (g->data) {
      /* a buffer still in the pipeline keeps its mapping; it is unmapped when it comes back */
      if (!g_atomic_int_get(&g->busy)) munmap(g->data, shm_size);
      xcb_shm_detach(xc, g->seg);
    }
    if (g->fd >= 0) close(g->fd);
    g->data = NULL;
    g->fd = -1;
  }
  shm_ok = 0;
}

/* MIT-SHM 1.2 with memfds: no SysV segment, so sandboxes with IPC namespaces of their own work. */
static void shm_setup(void) {
  shm_release();
  g_atomic_int_inc(&shm_generation);
  shm_size = (size_t)width * height * 4;
  const xcb_query_extension_reply_t *ext = xcb_get_extension_data(xc, &xcb_shm_id);
  if (!ext || !ext->present) return;
  for (int i = 0; i < SEGMENTS; i++) {
    Segment *g = &segments[i];
    g->fd = memfd_create("porthole-capture", MFD_CLOEXEC);
    if (g->fd < 0 || ftruncate(g->fd, (off_t)shm_size) < 0) return;
    g->data = mmap(NULL, shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
    if (g->data == MAP_FAILED) {
      g->data = NULL;
      return;
    }
    g->seg = xcb_generate_id(xc);
    g_atomic_int_set(&g->busy, 0);
    g->generation = (guint)g_atomic_int_get(&shm_generation);
    /* the server takes its own copy of the fd */
    xcb_generic_error_t *err = xcb_request_check(xc, xcb_shm_attach_fd_checked(xc, g->seg, dup(g->fd), 0));
    if (err) {
      free(err);
      munmap(g->data, shm_size);
      g->data = NULL;
      say("warning MIT-SHM with a memfd refused: capturing with GetImage (slower)");
      return;
    }
  }
  shm_ok = 1;
}

/*
 * The caps say the top rate even though frames come only on damage: x264enc holds frames back (about
 * one and a half, measured: 23 ms instead of 5) when told the rate is variable (0/1).
 */
static void set_source_caps(void) {
  GstCaps *caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width", G_TYPE_INT, width, "height", G_TYPE_INT, height,
                                      "framerate", GST_TYPE_FRACTION, fps, 1, NULL);
  gst_app_src_set_caps(GST_APP_SRC(appsrc), caps);
  gst_caps_unref(caps);
}

static int query_geometry(void) {
  xcb_get_geometry_reply_t *g = xcb_get_geometry_reply(xc, xcb_get_geometry(xc, root), NULL);
  if (!g) return 0;
  int changed = g->width != width || g->height != height;
  width = g->width;
  height = g->height;
  free(g);
  return changed;
}

static gboolean capture(gpointer unused);
static void handle_events(gboolean queued_only);

/* Frames on a grid of 1/fps from the last one: a change that comes sooner waits for its slot. */
static gint64 next_slot;

static void schedule_capture(void) {
  if (capture_timer) return;
  gint64 now = g_get_monotonic_time();
  gint64 wait = next_slot - now;
  if (wait <= 500) capture(NULL);
  else capture_timer = g_timeout_add_full(G_PRIORITY_HIGH, (guint)((wait + 999) / 1000), capture, NULL, NULL);
}

/*
 * The captured BGRx frame as I420, converted here with libyuv (SIMD, one pass) instead of by
 * videoconvert in the pipeline: a shared segment is free again as soon as it is converted, and the
 * encoder gets its own format without a thread hand-off.
 */
static GstBuffer *to_i420(const uint8_t *bgrx, int stride) {
  GstVideoInfo info;
  gst_video_info_set_format(&info, GST_VIDEO_FORMAT_I420, width, height);
  GstBuffer *out = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&info), NULL);
  GstMapInfo map;
  if (!gst_buffer_map(out, &map, GST_MAP_WRITE)) {
    gst_buffer_unref(out);
    return NULL;
  }
  uint8_t *d = map.data;
  /* libyuv's "ARGB" is B, G, R, A in memory: X11's 32-bit little-endian pixels */
  ARGBToI420(bgrx, stride, d + GST_VIDEO_INFO_PLANE_OFFSET(&info, 0), GST_VIDEO_INFO_PLANE_STRIDE(&info, 0), d + GST_VIDEO_INFO_PLANE_OFFSET(&info, 1),
             GST_VIDEO_INFO_PLANE_STRIDE(&info, 1), d + GST_VIDEO_INFO_PLANE_OFFSET(&info, 2), GST_VIDEO_INFO_PLANE_STRIDE(&info, 2), width, height);
  gst_buffer_unmap(out, &map);
  return out;
}

static gboolean capture(gpointer unused) {
  capture_timer = 0;
  gint64 start = g_get_monotonic_time();
  GstBuffer *buf = NULL;
  int free_segment = -1;
  for (int i = 0; shm_ok && i < SEGMENTS; i++)
    if (!g_atomic_int_get(&segments[i].busy)) {
      free_segment = i;
      break;
    }
  if (free_segment >= 0) {
    Segment *g = &segments[free_segment];
    xcb_shm_get_image_reply_t *r = xcb_shm_get_image_reply(xc, xcb_shm_get_image(xc, root, 0, 0, width, height, ~0u, XCB_IMAGE_FORMAT_Z_PIXMAP, g->seg, 0), NULL);
    if (r) {
      free(r);
      buf = to_i420(g->data, width * 4);
    }
  } else {
    /* no SHM, or every segment still in the pipeline (an encoder behind): a copy through the socket */
    xcb_get_image_reply_t *r = xcb_get_image_reply(xc, xcb_get_image(xc, XCB_IMAGE_FORMAT_Z_PIXMAP, root, 0, 0, width, height, ~0u), NULL);
    if (r) {
      if (xcb_get_image_data_length(r) >= width * height * 4) buf = to_i420(xcb_get_image_data(r), width * 4);
      free(r);
    }
  }
  if (!buf) return G_SOURCE_REMOVE;
  gint64 now = g_get_monotonic_time();
  gint64 interval = 1000000 / fps;
  /* the next slot: one interval on from this one's, or from now after a pause */
  next_slot = (next_slot && now - next_slot < interval) ? next_slot + interval : now + interval;
  GST_BUFFER_PTS(buf) = (now - t0) * 1000;
  GST_BUFFER_DURATION(buf) = GST_CLOCK_TIME_NONE;
  last_capture = now;
  dirty = FALSE;
  capture_ms_sum += (now - start) / 1000.0;
  capture_n++;
  pushed_at[pushed_wr++ & 63] = start;
  if (pushed_wr - pushed_rd > 32) pushed_rd = pushed_wr - 32;
  gst_app_src_push_buffer(GST_APP_SRC(appsrc), buf);
  handle_events(TRUE);
  return G_SOURCE_REMOVE;
}

/*
 * Damage and resizes arrive as X events. `queued_only`: after a reply was read, events that came with it
 * are already in xcb's queue and the fd will not wake us for them, so they are taken from the queue.
 */
static void handle_events(gboolean queued_only) {
  xcb_generic_event_t *ev;
  gboolean changed = FALSE;
  while ((ev = queued_only ? xcb_poll_for_queued_event(xc) : xcb_poll_for_event(xc))) {
    uint8_t type = ev->response_type & 0x7f;
    if (type == damage_event + XCB_DAMAGE_NOTIFY || type == XCB_CONFIGURE_NOTIFY) changed = TRUE;
    free(ev);
  }
  if (changed) {
    xcb_damage_subtract(xc, damage, XCB_NONE, XCB_NONE);
    if (query_geometry()) {
      shm_setup();
      set_source_caps();
      say("screen %dx%d", width, height);
    }
    xcb_flush(xc);
    dirty = TRUE;
    schedule_capture();
  }
}

static gboolean on_x(GIOChannel *ch, GIOCondition cond, gpointer unused) {
  handle_events(FALSE);
  if (xcb_connection_has_error(xc)) {
    say("error the X display went away");
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean heartbeat(gpointer unused) {
  if (g_get_monotonic_time() - last_capture >= (gint64)heartbeat_ms * 1000) schedule_capture();
  return G_SOURCE_CONTINUE;
}

/* ---- encoder control ------------------------------------------------------------------------ */

/* AV1 (libaom, on the pipeline's streaming thread) takes its requests from these at its next frame */
static gint av1_bitrate_wanted, av1_keyframe_wanted; /* atomic; 0: nothing asked */

static void set_bitrate(int kbps) {
  if (!enc) g_atomic_int_set(&av1_bitrate_wanted, kbps);
  else if (!strcmp(codec, "h264")) g_object_set(enc, "bitrate", (guint)kbps, NULL); /* kbit/s (x264enc and vaapih264enc) */
  else g_object_set(enc, "target-bitrate", kbps * 1000, NULL);                      /* vpx: bit/s */
}

static void force_keyframe(void) {
  if (!enc) {
    g_atomic_int_set(&av1_keyframe_wanted, 1);
  } else {
    GstPad *sink = gst_element_get_static_pad(enc, "sink");
    gst_pad_send_event(sink, gst_video_event_new_downstream_force_key_unit(GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, TRUE, 0));
    gst_object_unref(sink);
  }
  /* a still screen sends no frames: give the key frame something to be */
  capture(NULL);
}

static void print_stats(void) {
  gint64 now = g_get_monotonic_time();
  double dt = (now - last_stats) / 1e6;
  if (dt <= 0) return;
  double rate = (frames - frames_last) / dt;
  say("stats frames=%" G_GUINT64_FORMAT " fps=%.1f kbps=%.0f keyframes=%" G_GUINT64_FORMAT " idle=%d capture_ms=%.2f encode_ms=%.2f", frames, rate,
      8.0 * (bytes - bytes_last) / dt / 1000.0, keyframes, !dirty && now - last_capture > 500000, capture_n ? capture_ms_sum / capture_n : 0.0,
      encode_n ? encode_ms_sum / encode_n : 0.0);
  frames_last = frames;
  bytes_last = bytes;
  last_stats = now;
  capture_ms_sum = 0;
  capture_n = 0;
  encode_ms_sum = 0;
  encode_n = 0;
}

static gboolean tick(gpointer unused) {
  print_stats();
  return G_SOURCE_CONTINUE;
}

static GstPadProbeReturn on_encoded(GstPad *pad, GstPadProbeInfo *info, gpointer unused) {
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);
  frames++;
  bytes += gst_buffer_get_size(b);
  if (!GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT)) keyframes++;
  if (pushed_rd < pushed_wr) {
    encode_ms_sum += (g_get_monotonic_time() - pushed_at[pushed_rd++ & 63]) / 1000.0;
    encode_n++;
  }
  return GST_PAD_PROBE_OK;
}

static gboolean on_stdin(GIOChannel *ch, GIOCondition cond, gpointer unused) {
  gchar *line = NULL;
  gsize len;
  GIOStatus st = g_io_channel_read_line(ch, &line, &len, NULL, NULL);
  /* stdin closed: the streamer is gone, and so is the reason to run */
  if (st == G_IO_STATUS_EOF || st == G_IO_STATUS_ERROR) {
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
  }
  if (!line) return G_SOURCE_CONTINUE;
  g_strstrip(line);
  int n;
  if (sscanf(line, "bitrate %d", &n) == 1 && n > 0) {
    set_bitrate(n);
    say("ok bitrate %d", n);
  } else if (!strcmp(line, "keyframe")) {
    force_keyframe();
    say("ok keyframe");
  } else if (sscanf(line, "fps %d", &n) == 1 && n > 0 && n <= 240) {
    fps = n;
    set_source_caps();
    say("ok fps %d", n);
  } else if (!strcmp(line, "stats")) {
    print_stats();
  } else if (!strcmp(line, "quit")) {
    g_main_loop_quit(loop);
  } else if (*line) {
    say("error unknown command: %s", line);
  }
  g_free(line);
  return G_SOURCE_CONTINUE;
}

static gboolean on_bus(GstBus *bus, GstMessage *m, gpointer unused) {
  if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
    GError *e;
    gchar *d;
    gst_message_parse_error(m, &e, &d);
    say("error %s: %s", GST_OBJECT_NAME(m->src), e->message);
    g_error_free(e);
    g_free(d);
    g_main_loop_quit(loop);
  } else if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS) {
    g_main_loop_quit(loop);
  }
  return TRUE;
}

/* ---- set-up --------------------------------------------------------------------------------- */

static const char *encoder_element(int bitrate, int threads) {
  static char s[768];
  int gop = 600; /* a key frame every ~10 s at most; losses are repaired by PLI -> key frame */
  if (!strcmp(codec, "h264") && !strcmp(encoder_kind, "vaapi"))
    snprintf(s, sizeof s, "vaapih264enc name=enc rate-control=cbr bitrate=%d keyframe-period=%d max-bframes=0 ! video/x-h264,profile=constrained-baseline ! ", bitrate, gop);
  else if (!strcmp(codec, "h264"))
    /* sliced threads: x264's default frame threads add one frame of latency per thread */
    snprintf(s, sizeof s,
             "x264enc name=enc tune=zerolatency speed-preset=ultrafast bitrate=%d key-int-max=%d bframes=0 sliced-threads=true threads=%d "
             "vbv-buf-capacity=120 ! video/x-h264,profile=constrained-baseline ! ",
             bitrate, gop, threads);
  else if (!strcmp(codec, "vp8"))
    snprintf(s, sizeof s,
             "vp8enc name=enc deadline=1 cpu-used=8 target-bitrate=%d end-usage=cbr keyframe-max-dist=%d lag-in-frames=0 threads=%d "
             "error-resilient=partitions buffer-initial-size=100 buffer-optimal-size=120 buffer-size=150 ! ",
             bitrate * 1000, gop, threads);
  else if (!strcmp(codec, "vp9"))
    snprintf(s, sizeof s,
             "vp9enc name=enc deadline=1 cpu-used=8 row-mt=true tile-columns=2 target-bitrate=%d end-usage=cbr keyframe-max-dist=%d "
             "lag-in-frames=0 threads=%d buffer-initial-size=100 buffer-optimal-size=120 buffer-size=150 ! ",
             bitrate * 1000, gop, threads);
  else if (!strcmp(codec, "av1"))
    /* raw frames to the libaom encoder below (on_raw_frame) */
    snprintf(s, sizeof s, "appsink name=raw sync=false async=false max-buffers=1");
  else
    return NULL;
  return s;
}

static const char *payloader(void) {
  if (!strcmp(codec, "h264")) return "rtph264pay name=pay config-interval=-1 aggregate-mode=zero-latency";
  if (!strcmp(codec, "vp8")) return "rtpvp8pay name=pay picture-id-mode=15-bit";
  return "rtpvp9pay name=pay picture-id-mode=15-bit";
}

/*
 * AV1 into RTP (the AV1 RTP payload format, aomedia.org/av1-rtp-spec): this GStreamer (1.22) has no
 * rtpav1pay, so each temporal unit from libaom is packetized here and written RFC 4571-framed to
 * stdout like the other codecs' packets. Temporal delimiters are dropped and OBUs go without their
 * size field, as the format asks; every OBU element carries a LEB128 length (W = 0) and one too big
 * for a packet continues in the next (Y, then Z). N marks a temporal unit with a sequence header (a
 * key frame: a new coded video sequence starts there).
 */
static int av1_pt, av1_mtu;
static guint32 av1_ssrc;
static guint16 av1_seq;

static size_t leb128_read(const guint8 *p, size_t n, guint64 *v) {
  *v = 0;
  for (size_t i = 0; i < n && i < 8; i++) {
    *v |= (guint64)(p[i] & 0x7f) << (7 * i);
    if (!(p[i] & 0x80)) return i + 1;
  }
  return 0;
}

static size_t leb128_write(guint8 *p, size_t v) {
  size_t i = 0;
  do {
    p[i] = v & 0x7f;
    v >>= 7;
    if (v) p[i] |= 0x80;
    i++;
  } while (v);
  return i;
}

static size_t leb128_len(size_t v) {
  size_t i = 1;
  while (v >>= 7) i++;
  return i;
}

static void av1_emit(guint8 *pkt, size_t len, gboolean last, guint32 ts) {
  pkt[2] = 0x80;
  pkt[3] = (last ? 0x80 : 0) | (av1_pt & 0x7f);
  pkt[4] = av1_seq >> 8;
  pkt[5] = av1_seq & 0xff;
  av1_seq++;
  pkt[6] = ts >> 24, pkt[7] = ts >> 16, pkt[8] = ts >> 8, pkt[9] = ts;
  pkt[10] = av1_ssrc >> 24, pkt[11] = av1_ssrc >> 16, pkt[12] = av1_ssrc >> 8, pkt[13] = av1_ssrc;
  size_t rtp = len - 2;
  pkt[0] = rtp >> 8;
  pkt[1] = rtp & 0xff;
  for (size_t off = 0; off < len;) {
    ssize_t w = write(1, pkt + off, len - off);
    if (w <= 0) return; /* the streamer is gone; stdin's EOF ends the loop */
    off += (size_t)w;
  }
}

typedef struct {
  const guint8 *hdr; /* OBU header (+ extension), size field left out */
  size_t hdr_len;
  const guint8 *payload;
  size_t payload_len;
} Obu;

/* One temporal unit (low-overhead OBUs, as libaom writes them) into RTP packets on stdout. */
static void av1_packetize(const guint8 *data, size_t data_len, guint32 ts) {
  Obu obus[64];
  int n = 0;
  gboolean seq_header = FALSE;
  for (size_t at = 0; at < data_len && n < 64;) {
    const guint8 *p = data + at;
    size_t left = data_len - at;
    int type = (p[0] >> 3) & 0xf, ext = (p[0] >> 2) & 1, has_size = (p[0] >> 1) & 1;
    size_t hl = 1 + ext;
    if (hl > left) break;
    guint64 size = left - hl;
    size_t sl = 0;
    if (has_size && !(sl = leb128_read(p + hl, left - hl, &size))) break;
    if (hl + sl + size > left) break;
    if (type != 2 /* temporal delimiter */ && type != 8 /* tile list */ && type != 15 /* padding */) {
      obus[n++] = (Obu){p, hl, p + hl + sl, (size_t)size};
      if (type == 1) seq_header = TRUE;
    }
    at += hl + sl + size;
  }
  /* 2 bytes of framing + 12 of RTP header + 1 aggregation header, then elements */
  guint8 pkt[2 + 12 + 1 + 1500];
  size_t cap = (size_t)MIN(av1_mtu, 1500) - 12 - 1, used = 0;
  gboolean first = TRUE, cont = FALSE;
  int i = 0;
  size_t done = 0; /* bytes of obus[i] (header then payload) already sent */
  while (i < n) {
    size_t total = obus[i].hdr_len + obus[i].payload_len, rest = total - done;
    size_t room = cap - used;
    if (room < 2) { /* no room for a length and a byte (the last element ended): next packet */
      pkt[14] = (cont ? 0x80 : 0) | (first && seq_header ? 0x08 : 0);
      av1_emit(pkt, 15 + used, FALSE, ts);
      first = FALSE, cont = FALSE, used = 0;
      continue;
    }
    size_t take = rest;
    if (leb128_len(take) + take > room) {
      take = room - leb128_len(room);
      if (leb128_len(take) + take > room) take--;
    }
    guint8 *out = pkt + 15 + used;
    size_t l = leb128_write(out, take);
    out += l;
    for (size_t k = 0; k < take; k++) {
      size_t pos = done + k;
      guint8 byte = pos < obus[i].hdr_len ? obus[i].hdr[pos] : obus[i].payload[pos - obus[i].hdr_len];
      if (pos == 0) byte &= ~0x02; /* no obu_has_size_field */
      out[k] = byte;
    }
    used += l + take;
    done += take;
    gboolean obu_done = done == total;
    if (obu_done) i++, done = 0;
    gboolean full = cap - used < 2;
    if (i == n || full || !obu_done) {
      gboolean more = !obu_done; /* this packet's last element continues */
      pkt[14] = (cont ? 0x80 : 0) | (more ? 0x40 : 0) | (first && seq_header ? 0x08 : 0);
      av1_emit(pkt, 15 + used, i == n, ts);
      first = FALSE, cont = more, used = 0;
    }
  }
}

/*
 * AV1 with libaom's realtime mode, called for each raw frame on the pipeline's streaming thread.
 * Settings follow what libwebrtc gives libaom for real-time screen content: speed 10, cyclic-refresh
 * AQ, screen-content tools (palette), no temporal filtering or look-ahead; a key frame when asked
 * (AOM_EFLAG_FORCE_KF) and a new sequence when the screen's size changes.
 */
static aom_codec_ctx_t aom;
static aom_codec_enc_cfg_t aom_cfg;
static gboolean aom_open_ok;
static int aom_threads, aom_kbps, aom_gop;
static gint64 aom_last_pts = -1;

static gboolean aom_open(int w, int h) {
  if (aom_open_ok) aom_codec_destroy(&aom);
  aom_open_ok = FALSE;
  if (aom_codec_enc_config_default(aom_codec_av1_cx(), &aom_cfg, AOM_USAGE_REALTIME) != AOM_CODEC_OK) return FALSE;
  aom_cfg.g_w = (unsigned)w, aom_cfg.g_h = (unsigned)h;
  aom_cfg.g_timebase = (struct aom_rational){1, 90000};
  aom_cfg.g_threads = (unsigned)aom_threads;
  aom_cfg.g_lag_in_frames = 0;
  aom_cfg.g_error_resilient = 0;
  aom_cfg.rc_end_usage = AOM_CBR;
  aom_cfg.rc_target_bitrate = (unsigned)aom_kbps;
  aom_cfg.rc_min_quantizer = 4, aom_cfg.rc_max_quantizer = 56;
  aom_cfg.rc_undershoot_pct = 50, aom_cfg.rc_overshoot_pct = 50;
  aom_cfg.rc_buf_initial_sz = 100, aom_cfg.rc_buf_optimal_sz = 120, aom_cfg.rc_buf_sz = 150;
  aom_cfg.rc_dropframe_thresh = 30; /* skip a frame rather than overshoot the link */
  aom_cfg.kf_mode = AOM_KF_AUTO, aom_cfg.kf_min_dist = 0, aom_cfg.kf_max_dist = (unsigned)aom_gop;
  if (aom_codec_enc_init(&aom, aom_codec_av1_cx(), &aom_cfg, 0) != AOM_CODEC_OK) {
    say("error libaom: %s", aom_codec_error_detail(&aom) ? aom_codec_error_detail(&aom) : aom_codec_error(&aom));
    return FALSE;
  }
  aom_codec_control(&aom, AOME_SET_CPUUSED, 10);
  aom_codec_control(&aom, AV1E_SET_ROW_MT, 1);
  aom_codec_control(&aom, AV1E_SET_TILE_COLUMNS, w >= 1280 ? 1 : 0); /* log2: two tile columns from 720p */
  aom_codec_control(&aom, AV1E_SET_AQ_MODE, 3);
  aom_codec_control(&aom, AV1E_SET_TUNE_CONTENT, AOM_CONTENT_SCREEN);
  aom_codec_control(&aom, AV1E_SET_ENABLE_PALETTE, 1);
  aom_codec_control(&aom, AV1E_SET_ENABLE_TPL_MODEL, 0);
  aom_codec_control(&aom, AV1E_SET_ENABLE_ORDER_HINT, 0);
  aom_codec_control(&aom, AV1E_SET_ENABLE_CDEF, 1);
  aom_codec_control(&aom, AV1E_SET_COEFF_COST_UPD_FREQ, 3);
  aom_codec_control(&aom, AV1E_SET_MODE_COST_UPD_FREQ, 3);
  aom_codec_control(&aom, AV1E_SET_MV_COST_UPD_FREQ, 3);
  aom_codec_control(&aom, AOME_SET_MAX_INTRA_BITRATE_PCT, 300); /* a key frame may not take a second's budget */
  aom_open_ok = TRUE;
  return TRUE;
}

static GstFlowReturn on_raw_frame(GstAppSink *sink, gpointer unused) {
  GstSample *sample = gst_app_sink_pull_sample(sink);
  if (!sample) return GST_FLOW_EOS;
  GstBuffer *b = gst_sample_get_buffer(sample);
  GstVideoInfo info;
  GstVideoFrame vf;
  if (!gst_video_info_from_caps(&info, gst_sample_get_caps(sample)) || !gst_video_frame_map(&vf, &info, b, GST_MAP_READ)) {
    gst_sample_unref(sample);
    return GST_FLOW_OK;
  }
  if ((!aom_open_ok || aom_cfg.g_w != (unsigned)info.width || aom_cfg.g_h != (unsigned)info.height) && !aom_open(info.width, info.height)) {
    gst_video_frame_unmap(&vf);
    gst_sample_unref(sample);
    return GST_FLOW_ERROR;
  }
  int kbps = g_atomic_int_exchange(&av1_bitrate_wanted, 0);
  if (kbps > 0 && (unsigned)kbps != aom_cfg.rc_target_bitrate) {
    aom_cfg.rc_target_bitrate = (unsigned)kbps;
    aom_codec_enc_config_set(&aom, &aom_cfg);
  }
  aom_enc_frame_flags_t flags = g_atomic_int_exchange(&av1_keyframe_wanted, 0) ? AOM_EFLAG_FORCE_KF : 0;
  aom_image_t img;
  aom_img_wrap(&img, AOM_IMG_FMT_I420, (unsigned)info.width, (unsigned)info.height, 1, GST_VIDEO_FRAME_PLANE_DATA(&vf, 0));
  for (int p = 0; p < 3; p++) {
    img.planes[p] = GST_VIDEO_FRAME_PLANE_DATA(&vf, p);
    img.stride[p] = GST_VIDEO_FRAME_PLANE_STRIDE(&vf, p);
  }
  /* libaom wants strictly increasing timestamps, in its 90 kHz time base (the RTP clock) */
  GstClockTime capture_pts = GST_BUFFER_PTS(b);
  gint64 pts = (gint64)gst_util_uint64_scale(capture_pts, 90000, GST_SECOND);
  if (pts <= aom_last_pts) pts = aom_last_pts + 1;
  aom_last_pts = pts;
  aom_codec_err_t err = aom_codec_encode(&aom, &img, pts, 1, flags);
  gst_video_frame_unmap(&vf);
  gst_sample_unref(sample);
  if (err != AOM_CODEC_OK) {
    say("error libaom: %s", aom_codec_error(&aom));
    return GST_FLOW_ERROR;
  }
  aom_codec_iter_t it = NULL;
  const aom_codec_cx_pkt_t *pkt;
  while ((pkt = aom_codec_get_cx_data(&aom, &it))) {
    if (pkt->kind != AOM_CODEC_CX_FRAME_PKT) continue;
    frames++;
    bytes += pkt->data.frame.sz;
    if (pkt->data.frame.flags & AOM_FRAME_IS_KEY) keyframes++;
    /* from the frame's capture (its PTS) to here: frames the leaky queue dropped do not count */
    encode_ms_sum += (g_get_monotonic_time() - t0 - (gint64)(capture_pts / 1000)) / 1000.0;
    encode_n++;
    av1_packetize(pkt->data.frame.buf, pkt->data.frame.sz, (guint32)pkt->data.frame.pts);
  }
  return GST_FLOW_OK;
}

static int connect_x(void) {
  int screen_no = 0;
  xc = xcb_connect(NULL, &screen_no);
  if (xcb_connection_has_error(xc)) {
    say("error cannot connect to the X display %s", getenv("DISPLAY") ? getenv("DISPLAY") : "(DISPLAY unset)");
    return 0;
  }
  const xcb_setup_t *setup = xcb_get_setup(xc);
  xcb_screen_iterator_t it = xcb_setup_roots_iterator(setup);
  for (int i = 0; i < screen_no; i++) xcb_screen_next(&it);
  root = it.data->root;
  const xcb_query_extension_reply_t *dext = xcb_get_extension_data(xc, &xcb_damage_id);
  if (!dext || !dext->present) {
    say("error the X display has no DAMAGE extension");
    return 0;
  }
  damage_event = dext->first_event;
  xcb_damage_query_version_reply_t *dv = xcb_damage_query_version_reply(xc, xcb_damage_query_version(xc, 1, 1), NULL);
  free(dv);
  free(xcb_shm_query_version_reply(xc, xcb_shm_query_version(xc), NULL));
  damage = xcb_generate_id(xc);
  xcb_damage_create(xc, damage, root, XCB_DAMAGE_REPORT_LEVEL_NON_EMPTY);
  uint32_t mask = XCB_EVENT_MASK_STRUCTURE_NOTIFY;
  xcb_change_window_attributes(xc, root, XCB_CW_EVENT_MASK, &mask);
  query_geometry();
  for (int i = 0; i < SEGMENTS; i++) segments[i].fd = -1; /* not 0: that is stdin */
  shm_setup();
  xcb_flush(xc);
  return 1;
}

int main(int argc, char **argv) {
  int pt = 96, bitrate = 4000, mtu = 1200, threads = 2;
  unsigned ssrc = 0x1234abcd;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
#define OPT(name) (!strcmp(a, name) && ++i)
    if (OPT("--codec")) codec = v;
    else if (OPT("--pt")) pt = atoi(v);
    else if (OPT("--ssrc")) ssrc = (unsigned)strtoul(v, NULL, 0);
    else if (OPT("--bitrate")) bitrate = atoi(v);
    else if (OPT("--fps")) fps = atoi(v);
    else if (OPT("--encoder")) encoder_kind = v;
    else if (OPT("--mtu")) mtu = atoi(v);
    else if (OPT("--threads")) threads = atoi(v);
    else if (OPT("--heartbeat-ms")) heartbeat_ms = atoi(v);
    else {
      say("error unknown argument %s", a);
      return 2;
    }
  }
  if (fps <= 0) {
    say("error --fps must be positive");
    return 2;
  }
  gst_init(&argc, &argv);
  const char *encoder = encoder_element(bitrate, threads);
  if (!encoder) {
    say("error unknown codec %s", codec);
    return 2;
  }
  if (!connect_x()) return 1;

  GString *d = g_string_new(NULL);
  gboolean av1 = !strcmp(codec, "av1");
  if (av1)
    g_string_append_printf(d, "appsrc name=src is-live=true format=time do-timestamp=false block=false max-buffers=2 leaky-type=downstream ! %s", encoder);
  else
    g_string_append_printf(d,
                           "appsrc name=src is-live=true format=time do-timestamp=false block=false max-buffers=2 leaky-type=downstream ! "
                           "%s%s pt=%d ssrc=%u mtu=%d ! "
                           "rtpstreampay ! fdsink fd=1 sync=false async=false",
                           encoder, payloader(), pt, ssrc, mtu);
  av1_pt = pt, av1_ssrc = ssrc, av1_mtu = mtu, av1_seq = (guint16)g_random_int();
  aom_threads = threads, aom_kbps = bitrate, aom_gop = 600;
  GError *err = NULL;
  pipeline = gst_parse_launch(d->str, &err);
  if (!pipeline) {
    say("error %s", err->message);
    return 1;
  }
  appsrc = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  set_source_caps();
  if (av1) {
    GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "raw");
    GstAppSinkCallbacks cb = {.new_sample = on_raw_frame};
    gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cb, NULL, NULL);
    gst_object_unref(sink);
  } else {
    enc = gst_bin_get_by_name(GST_BIN(pipeline), "enc");
    GstPad *src = gst_element_get_static_pad(enc, "src");
    gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER, on_encoded, NULL, NULL);
    gst_object_unref(src);
  }

  loop = g_main_loop_new(NULL, FALSE);
  GstBus *bus = gst_element_get_bus(pipeline);
  gst_bus_add_watch(bus, on_bus, NULL);
  GIOChannel *in = g_io_channel_unix_new(0);
  g_io_add_watch(in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, NULL);
  GIOChannel *xch = g_io_channel_unix_new(xcb_get_file_descriptor(xc));
  g_io_add_watch(xch, G_IO_IN | G_IO_HUP | G_IO_ERR, on_x, NULL);
  t0 = last_stats = g_get_monotonic_time();
  g_timeout_add(1000, tick, NULL);
  g_timeout_add(MAX(50, heartbeat_ms / 4), heartbeat, NULL);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstElementFactory *f = enc ? gst_element_get_factory(enc) : NULL;
  say("ready %dx%d %s %s shm=%d", width, height, codec, av1 ? "libaom" : f ? GST_OBJECT_NAME(f) : "?", shm_ok);
  capture(NULL);
  g_main_loop_run(loop);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  shm_release();
  xcb_disconnect(xc);
  return 0;
}
