// libheif (npm libheif-js, compiled to wasm) as the worker uses it for HEIF photos: open a file, read
// its primary image's size and how many images it holds, decode that image's RGBA into a given buffer.
// The worker imports this module and libheif only when someone chooses a HEIF (worker.js hashHeif).
//
// libheif-js's own HeifDecoder and HeifImage.display are not used: they log libheif's reasons instead
// of returning them, and copy whatever size they decoded into whatever buffer they are given.

// Why a file could not be decoded, in libheif's words. `unsupported`: a feature libheif lacks (the file
// may be fine); `broken`: libheif threw rather than returned an error, and its memory may be
// inconsistent, so the caller should not use this instance again.
export class HeifError extends Error {
  constructor(message, { unsupported = false, broken = false } = {}) {
    super(message);
    this.unsupported = unsupported;
    this.broken = broken;
  }
}

export function heifDecoder(lib) {
  const codes = lib.heif_error_code;

  function failure(error, fallback) {
    const unsupported = Boolean(error) && (error.code === codes.heif_error_Unsupported_feature || error.code === codes.heif_error_Unsupported_filetype);
    const message = error && error.message ? String(error.message).trim() : fallback;
    return new HeifError(message, { unsupported });
  }

  // Runs `step`; a throw that is not ours (a C++ exception arrives as a number) becomes a broken HeifError.
  function guarded(step) {
    try {
      return step();
    } catch (error) {
      if (error instanceof HeifError) throw error;
      throw new HeifError(`libheif failed (${String(error).slice(0, 100)})`, { broken: true });
    }
  }

  // The file's primary image: {width, height, images, decodeInto(target), close()}. Throws HeifError.
  // close() frees the file's context (its bytes and everything decoded from them); call it always.
  function open(bytes) {
    const context = lib.heif_context_alloc();
    const handles = [];
    const close = () => {
      for (const handle of handles) lib.heif_image_handle_release(handle);
      lib.heif_context_free(context);
    };
    try {
      return guarded(() => {
        const read = lib.heif_context_read_from_memory(context, bytes);
        if (read.code !== codes.heif_error_Ok) throw failure(read, "libheif could not read it");
        for (const id of lib.heif_js_context_get_list_of_top_level_image_IDs(context)) {
          const handle = lib.heif_js_context_get_image_handle(context, id);
          if (handle && !handle.code) handles.push(handle);
        }
        if (!handles.length) throw new HeifError("libheif found no picture in it");
        const primary = handles.find((handle) => lib.heif_image_handle_is_primary_image(handle)) || handles[0];
        const width = lib.heif_image_handle_get_width(primary);
        const height = lib.heif_image_handle_get_height(primary);
        return { width, height, images: handles.length, decodeInto: (target) => guarded(() => decodeInto(primary, width, height, target)), close };
      });
    } catch (error) {
      close();
      throw error;
    }
  }

  // The primary image's RGBA rows (turned as the file's rotation and mirror properties say) copied
  // into `target`, only when libheif decoded exactly the size it announced.
  function decodeInto(primary, width, height, target) {
    const rgba = lib.heif_js_decode_image2(primary, lib.heif_colorspace.heif_colorspace_RGB, lib.heif_chroma.heif_chroma_interleaved_RGBA);
    if (!rgba || rgba.code) throw failure(rgba, "libheif could not decode it");
    try {
      const plane = rgba.channels.find((channel) => channel.id === lib.heif_channel.heif_channel_interleaved);
      const row = width * 4;
      if (!plane || plane.width !== width || plane.height !== height || plane.bits_per_pixel !== 8 || plane.stride < row) {
        const got = plane ? `${plane.width}x${plane.height}, ${plane.bits_per_pixel} bits per sample` : "no RGBA plane";
        throw new HeifError(`libheif announced ${width}x${height} and decoded ${got}`);
      }
      for (let y = 0; y < height; y++) target.set(plane.data.subarray(y * plane.stride, y * plane.stride + row), y * row);
    } finally {
      lib.heif_image_release(rgba.image);
    }
  }

  return { open };
}
