package org.rawdenoise.core;

/**
 * The whole denoising path for one DNG, as {@code denoise_raw} + {@code RawImage.to_dn} run it in
 * the Python SDK: normalize (black per position, white) → RGGB canonical form → packed planes →
 * tiled model → unpack → original phase and size → raw numbers → a copy of the DNG with the new
 * pixels. The app supplies the model; everything else lives here, where it is tested on the JVM.
 */
public final class DngDenoiser {

    /** Everything the app shows and saves. Mosaics are normalized, in the file's own phase. */
    public static final class Result {
        public final NoiseProfile profile;
        public final float[] noisy;
        public final float[] denoised;
        public final short[] denoisedRaw;
        public final byte[] dng;
        public final int tiles;
        /** Wall time of the tiled model runs, and of the whole call. */
        public final long inferenceNanos;
        public final long totalNanos;

        Result(NoiseProfile profile, float[] noisy, float[] denoised, short[] denoisedRaw, byte[] dng, int tiles,
               long inferenceNanos, long totalNanos) {
            this.profile = profile;
            this.noisy = noisy;
            this.denoised = denoised;
            this.denoisedRaw = denoisedRaw;
            this.dng = dng;
            this.tiles = tiles;
            this.inferenceNanos = inferenceNanos;
            this.totalNanos = totalNanos;
        }
    }

    private DngDenoiser() {
    }

    /**
     * Denoise {@code dng}'s active area with {@code model} for {@code profile}; {@code tile} and
     * {@code overlap} in packed-plane pixels (the bundle manifest's {@code io.tile}/{@code io.overlap}).
     */
    public static Result denoise(DngFile dng, NoiseProfile profile, TileModel model, int tile, int overlap, int batch,
                                 TiledDenoiser.Progress progress) throws Exception {
        long start = System.nanoTime();
        float[] noisy = dng.levels.normalize(dng.mosaic(), dng.height, dng.width);
        Canonical canonical = Canonical.of(dng.pattern, dng.height, dng.width);
        int h = canonical.rggbHeight() / 2;
        int w = canonical.rggbWidth() / 2;
        float[] planes = RggbPacking.pack(canonical.toRggb(noisy), canonical.rggbHeight(), canonical.rggbWidth());
        int[] tiles = {0};
        long inferenceStart = System.nanoTime();
        float[] out = TiledDenoiser.denoisePlanes(model, planes, h, w, profile.asVector(), tile, overlap, batch,
                (done, total) -> {
                    tiles[0] = total;
                    if (progress != null) {
                        progress.update(done, total);
                    }
                });
        long inferenceNanos = System.nanoTime() - inferenceStart;
        float[] denoised = canonical.toOriginal(RggbPacking.unpack(out, h, w));
        short[] raw = dng.levels.denormalize(denoised, dng.height, dng.width);
        byte[] file = dng.withMosaic(raw);
        return new Result(profile, noisy, denoised, raw, file, tiles[0], inferenceNanos, System.nanoTime() - start);
    }
}
