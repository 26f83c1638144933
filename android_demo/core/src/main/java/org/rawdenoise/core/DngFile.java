package org.rawdenoise.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An uncompressed Bayer DNG held in memory: the CFA mosaic of its active area plus the tags the
 * denoiser needs (pattern, black/white levels, NoiseProfile, white balance, colour matrix).
 *
 * <p>Android has no public API that returns a DNG's raw mosaic, so the app reads it here. Phones
 * write DNGs with {@code DngCreator}: uncompressed 16-bit strips, the tags below in IFD 0. Tiles,
 * SubIFDs, both byte orders and 8-bit samples are read as well. Compressed, linear (demosaiced,
 * e.g. ProRAW) and non-Bayer files get a one-line error saying so.
 *
 * <p>{@link #withMosaic} writes the denoised mosaic back into a copy of the original file, so the
 * tags (colour, lens, orientation) stay as the camera wrote them; only the tags that describe the
 * old pixels — NoiseProfile, the raw-data digests and RawDataUniqueID — are removed, as
 * {@code replace_dng_pixels} in the Python SDK does.
 */
public final class DngFile {

    private static final int NEW_SUBFILE_TYPE = 254;
    private static final int IMAGE_WIDTH = 256;
    private static final int IMAGE_LENGTH = 257;
    private static final int BITS_PER_SAMPLE = 258;
    private static final int COMPRESSION = 259;
    private static final int PHOTOMETRIC = 262;
    private static final int STRIP_OFFSETS = 273;
    private static final int ORIENTATION = 274;
    private static final int SAMPLES_PER_PIXEL = 277;
    private static final int ROWS_PER_STRIP = 278;
    private static final int STRIP_BYTE_COUNTS = 279;
    private static final int TILE_WIDTH = 322;
    private static final int TILE_LENGTH = 323;
    private static final int TILE_OFFSETS = 324;
    private static final int TILE_BYTE_COUNTS = 325;
    private static final int SUB_IFDS = 330;
    private static final int CFA_REPEAT_PATTERN_DIM = 33421;
    private static final int CFA_PATTERN = 33422;
    private static final int DNG_VERSION = 50706;
    private static final int CFA_PLANE_COLOR = 50710;
    private static final int CFA_LAYOUT = 50711;
    private static final int LINEARIZATION_TABLE = 50712;
    private static final int BLACK_LEVEL_REPEAT_DIM = 50713;
    private static final int BLACK_LEVEL = 50714;
    private static final int BLACK_LEVEL_DELTA_H = 50715;
    private static final int BLACK_LEVEL_DELTA_V = 50716;
    private static final int WHITE_LEVEL = 50717;
    private static final int COLOR_MATRIX_1 = 50721;
    private static final int AS_SHOT_NEUTRAL = 50728;
    private static final int ACTIVE_AREA = 50829;
    private static final int NOISE_PROFILE = 51041;
    private static final int RAW_DATA_UNIQUE_ID = 50781;
    private static final int RAW_IMAGE_DIGEST = 50858;
    private static final int NEW_RAW_IMAGE_DIGEST = 51111;
    /** Tags that describe the original pixels and are wrong once they are replaced. */
    private static final int[] STALE_AFTER_NEW_PIXELS = {NOISE_PROFILE, RAW_DATA_UNIQUE_ID, RAW_IMAGE_DIGEST,
                                                         NEW_RAW_IMAGE_DIGEST};

    private static final int PHOTOMETRIC_CFA = 32803;
    private static final int PHOTOMETRIC_LINEAR_RAW = 34892;

    private final byte[] bytes;
    private final String name;
    private final ByteOrder order;
    private final ByteBuffer view;
    private final List<Ifd> ifds = new ArrayList<>();
    private final Ifd raw;
    private final int bitsPerSample;
    private final int fullWidth;
    private final int activeTop;
    private final int activeLeft;

    /** Size of the active area (the mosaic this class exposes). */
    public final int height;
    public final int width;
    /** Bayer phase of the active area's top-left pixel. */
    public final BayerPattern pattern;
    /** Black per 2×2 tile position of the active area, row by row, and the white level. */
    public final BayerNormalization levels;
    /** The raw NoiseProfile tag values, or null when the file has none. */
    public final double[] noiseProfileValues;
    /** CFAPlaneColor (0 red, 1 green, 2 blue) of the NoiseProfile pairs. */
    public final int[] planeColors;
    /** AsShotNeutral (camera RGB of a neutral grey), or null. */
    public final double[] asShotNeutral;
    /** ColorMatrix1 (XYZ → camera RGB, 3×3 row-major), or null. */
    public final double[] colorMatrix1;
    /** TIFF Orientation (1 = as stored). */
    public final int orientation;

    private DngFile(byte[] bytes, String name) {
        this.bytes = bytes;
        this.name = name;
        if (bytes.length < 8) {
            throw error("is too short to be a DNG");
        }
        if (bytes[0] == 'I' && bytes[1] == 'I') {
            order = ByteOrder.LITTLE_ENDIAN;
        } else if (bytes[0] == 'M' && bytes[1] == 'M') {
            order = ByteOrder.BIG_ENDIAN;
        } else {
            throw error("is not a TIFF/DNG file (bad byte-order mark)");
        }
        view = ByteBuffer.wrap(bytes).order(order);
        if (u16(2) != 42) {
            throw error("is not a classic TIFF/DNG file (BigTIFF and other variants are not supported)");
        }
        readIfdChain(u32(4), ifds, 0);
        Ifd ifd0 = ifds.get(0);
        if (!ifd0.has(DNG_VERSION)) {
            throw error("has no DNGVersion tag: not a DNG (convert it to DNG or open a camera RAW DNG)");
        }
        raw = findRawIfd(ifds);

        if (raw.intValue(COMPRESSION, 1) != 1) {
            throw error("is compressed (Compression=" + raw.intValue(COMPRESSION, 1)
                    + "); only uncompressed DNGs are supported (save with DngCreator or convert uncompressed)");
        }
        if (raw.intValue(SAMPLES_PER_PIXEL, 1) != 1) {
            throw error("has " + raw.intValue(SAMPLES_PER_PIXEL, 1) + " samples per pixel; a Bayer mosaic has 1");
        }
        bitsPerSample = raw.intValue(BITS_PER_SAMPLE, 1);
        if (bitsPerSample != 16 && bitsPerSample != 8) {
            throw error("stores " + bitsPerSample + "-bit samples; only 8- and 16-bit mosaics are supported");
        }
        if (raw.has(LINEARIZATION_TABLE)) {
            throw error("uses a LinearizationTable, which this reader does not apply");
        }
        if (raw.intValue(CFA_LAYOUT, 1) != 1) {
            throw error("has a non-rectangular CFALayout; only rectangular Bayer sensors are supported");
        }
        for (int tag : new int[] {BLACK_LEVEL_DELTA_H, BLACK_LEVEL_DELTA_V}) {
            for (double v : raw.doubles(tag, new double[0])) {
                if (v != 0) {
                    throw error("has per-row/column BlackLevelDelta tags, which this reader does not apply");
                }
            }
        }
        fullWidth = raw.intValue(IMAGE_WIDTH, -1);
        int fullHeight = raw.intValue(IMAGE_LENGTH, -1);
        if (fullWidth <= 0 || fullHeight <= 0) {
            throw error("has no image size in its raw IFD");
        }
        long[] area = raw.longs(ACTIVE_AREA, new long[] {0, 0, fullHeight, fullWidth});
        if (area.length != 4 || area[0] < 0 || area[1] < 0 || area[2] > fullHeight || area[3] > fullWidth
                || area[2] - area[0] < 3 || area[3] - area[1] < 3) {
            throw error("has an invalid ActiveArea for a " + fullHeight + "x" + fullWidth + " image");
        }
        activeTop = (int) area[0];
        activeLeft = (int) area[1];
        height = (int) (area[2] - area[0]);
        width = (int) (area[3] - area[1]);

        long[] dim = raw.longs(CFA_REPEAT_PATTERN_DIM, null);
        if (dim == null || dim.length != 2 || dim[0] != 2 || dim[1] != 2) {
            throw error("does not have a 2x2 CFA repeat pattern (X-Trans and other layouts are not supported)");
        }
        planeColors = toInts(raw.longs(CFA_PLANE_COLOR, new long[] {0, 1, 2}));
        long[] cfa = raw.longs(CFA_PATTERN, null);
        if (cfa == null) {
            throw error("has no CFAPattern tag");
        }
        int[] colors = new int[cfa.length];
        for (int i = 0; i < cfa.length; i++) {
            int plane = (int) cfa[i];
            colors[i] = plane >= 0 && plane < planeColors.length ? planeColors[plane] : -1;
        }
        try {
            pattern = BayerPattern.fromColorCodes(colors);
        } catch (CfaException e) {
            throw error("has an unsupported " + e.getMessage());
        }

        levels = readLevels();
        double[] noise = raw.doubles(NOISE_PROFILE, null);
        noiseProfileValues = noise != null ? noise : ifd0.doubles(NOISE_PROFILE, null);
        asShotNeutral = ifd0.doubles(AS_SHOT_NEUTRAL, null);
        double[] matrix = ifd0.doubles(COLOR_MATRIX_1, null);
        colorMatrix1 = matrix != null && matrix.length == 9 ? matrix : null;
        orientation = ifd0.intValue(ORIENTATION, 1);
        checkPixelDataInFile();
    }

    /** Parse a DNG; {@code name} (the file's display name) is quoted in every error. */
    public static DngFile parse(byte[] bytes, String name) {
        return new DngFile(bytes, name);
    }

    /** Noise profile from the NoiseProfile tag; an error telling the user to give one otherwise. */
    public NoiseProfile noiseProfile() {
        if (noiseProfileValues == null) {
            throw error("has no NoiseProfile tag, so its noise level is unknown; capture with this app (it reads "
                    + "the camera's noise profile) or use the rawdenoise CLI, which estimates the noise");
        }
        try {
            return NoiseProfile.fromDngPairs(noiseProfileValues, planeColors);
        } catch (NoiseProfileException e) {
            throw error("has an unusable NoiseProfile tag: " + e.getMessage());
        }
    }

    /** The active area's raw mosaic, row-major, 16-bit unsigned samples stored in {@code short}. */
    public short[] mosaic() {
        short[] out = new short[height * width];
        forEachPixelRun((row, col, offset, count) -> {
            for (int i = 0; i < count; i++) {
                int x = col + i - activeLeft;
                int y = row - activeTop;
                if (y >= 0 && y < height && x >= 0 && x < width) {
                    out[y * width + x] = (short) readSample(offset + (long) i * bytesPerSample());
                }
            }
        });
        return out;
    }

    /**
     * A copy of the file with the active area's mosaic replaced by {@code mosaic} (same size and
     * layout as {@link #mosaic()}) and the stale tags removed; every other byte is unchanged.
     */
    public byte[] withMosaic(short[] mosaic) {
        if (mosaic.length != height * width) {
            throw new IllegalArgumentException("mosaic has " + mosaic.length + " values, the DNG's active area is "
                    + height + "x" + width);
        }
        byte[] out = bytes.clone();
        ByteBuffer buffer = ByteBuffer.wrap(out).order(order);
        int maxSample = (1 << bitsPerSample) - 1;
        forEachPixelRun((row, col, offset, count) -> {
            for (int i = 0; i < count; i++) {
                int x = col + i - activeLeft;
                int y = row - activeTop;
                if (y >= 0 && y < height && x >= 0 && x < width) {
                    int v = Math.min(mosaic[y * width + x] & 0xFFFF, maxSample);
                    long at = offset + (long) i * bytesPerSample();
                    if (bitsPerSample == 16) {
                        buffer.putShort((int) at, (short) v);
                    } else {
                        out[(int) at] = (byte) v;
                    }
                }
            }
        });
        for (Ifd ifd : ifds) {
            for (int tag : STALE_AFTER_NEW_PIXELS) {
                removeEntry(out, buffer, ifd, tag);
            }
        }
        return out;
    }

    /**
     * Drop one entry from an IFD in place: later entries move up 12 bytes, the count and the
     * next-IFD pointer follow, and the freed 12 bytes are zeroed. Values stored elsewhere in
     * the file become unreferenced, which TIFF allows.
     */
    private static void removeEntry(byte[] out, ByteBuffer view, Ifd ifd, int tag) {
        int entries = view.getShort(ifd.offset) & 0xFFFF;
        for (int e = 0; e < entries; e++) {
            int at = ifd.offset + 2 + 12 * e;
            if ((view.getShort(at) & 0xFFFF) != tag) {
                continue;
            }
            int end = ifd.offset + 2 + 12 * entries + 4; // past the next-IFD pointer
            System.arraycopy(out, at + 12, out, at, end - (at + 12));
            Arrays.fill(out, end - 12, end, (byte) 0);
            view.putShort(ifd.offset, (short) (entries - 1));
            return;
        }
    }

    // ----------------------------------------------------------------- pixel layout

    /** A run of {@code count} consecutive samples of image row {@code row} starting at {@code col}. */
    private interface PixelRun {
        void accept(int row, int col, long offset, int count);
    }

    private int bytesPerSample() {
        return bitsPerSample / 8;
    }

    private int fullHeight() {
        return raw.intValue(IMAGE_LENGTH, -1);
    }

    private void forEachPixelRun(PixelRun run) {
        int bps = bytesPerSample();
        if (raw.has(TILE_OFFSETS)) {
            int tileW = raw.intValue(TILE_WIDTH, -1);
            int tileH = raw.intValue(TILE_LENGTH, -1);
            long[] offsets = raw.longs(TILE_OFFSETS, null);
            int across = (fullWidth + tileW - 1) / tileW;
            for (int t = 0; t < offsets.length; t++) {
                int top = (t / across) * tileH;
                int left = (t % across) * tileW;
                int count = Math.min(tileW, fullWidth - left);
                for (int r = 0; r < tileH && top + r < fullHeight(); r++) {
                    run.accept(top + r, left, offsets[t] + (long) r * tileW * bps, count);
                }
            }
        } else {
            int rowsPerStrip = (int) Math.min(raw.longValue(ROWS_PER_STRIP, Integer.MAX_VALUE), fullHeight());
            long[] offsets = raw.longs(STRIP_OFFSETS, null);
            for (int s = 0; s < offsets.length; s++) {
                for (int r = 0; r < rowsPerStrip && s * rowsPerStrip + r < fullHeight(); r++) {
                    run.accept(s * rowsPerStrip + r, 0, offsets[s] + (long) r * fullWidth * bps, fullWidth);
                }
            }
        }
    }

    private void checkPixelDataInFile() {
        int bps = bytesPerSample();
        long[] offsets;
        long[] counts;
        long expected;
        if (raw.has(TILE_OFFSETS)) {
            int tileW = raw.intValue(TILE_WIDTH, -1);
            int tileH = raw.intValue(TILE_LENGTH, -1);
            if (tileW <= 0 || tileH <= 0) {
                throw error("has tiles without TileWidth/TileLength");
            }
            offsets = raw.longs(TILE_OFFSETS, null);
            counts = raw.longs(TILE_BYTE_COUNTS, null);
            long tiles = (long) ((fullWidth + tileW - 1) / tileW) * ((fullHeight() + tileH - 1) / tileH);
            if (offsets.length != tiles) {
                throw error("has " + offsets.length + " tiles, expected " + tiles);
            }
            expected = (long) tileW * tileH * bps;
            for (int i = 0; i < offsets.length; i++) {
                requireRange(offsets[i], expected, counts, i);
            }
        } else {
            offsets = raw.longs(STRIP_OFFSETS, null);
            counts = raw.longs(STRIP_BYTE_COUNTS, null);
            if (offsets == null) {
                throw error("has neither strips nor tiles in its raw IFD");
            }
            int rowsPerStrip = (int) Math.min(raw.longValue(ROWS_PER_STRIP, Integer.MAX_VALUE), fullHeight());
            long strips = (fullHeight() + rowsPerStrip - 1) / rowsPerStrip;
            if (offsets.length != strips) {
                throw error("has " + offsets.length + " strips, expected " + strips);
            }
            for (int s = 0; s < offsets.length; s++) {
                int rows = Math.min(rowsPerStrip, fullHeight() - s * rowsPerStrip);
                requireRange(offsets[s], (long) rows * fullWidth * bps, counts, s);
            }
        }
    }

    private void requireRange(long offset, long length, long[] counts, int index) {
        if (counts != null && index < counts.length && counts[index] < length) {
            throw error("has a truncated pixel block " + index + " (" + counts[index] + " of " + length
                    + " bytes): the file is damaged or packs its samples");
        }
        if (offset < 0 || offset + length > bytes.length) {
            throw error("is truncated: pixel block " + index + " lies past the end of the file");
        }
    }

    private int readSample(long at) {
        return bitsPerSample == 16 ? u16((int) at) : bytes[(int) at] & 0xFF;
    }

    private BayerNormalization readLevels() {
        long[] repeat = raw.longs(BLACK_LEVEL_REPEAT_DIM, new long[] {1, 1});
        double[] blackTag = raw.doubles(BLACK_LEVEL, new double[] {0});
        if (repeat.length != 2 || repeat[0] < 1 || repeat[1] < 1 || repeat[0] > 2 || repeat[1] > 2
                || blackTag.length != repeat[0] * repeat[1]) {
            throw error("has a BlackLevel pattern this reader does not support (repeat "
                    + Arrays.toString(repeat) + ", " + blackTag.length + " values)");
        }
        int rows = (int) repeat[0];
        int cols = (int) repeat[1];
        double[] black = new double[4];
        for (int r = 0; r < 2; r++) {
            for (int c = 0; c < 2; c++) {
                // BlackLevel repeats from the active area's top-left corner.
                black[r * 2 + c] = blackTag[(r % rows) * cols + (c % cols)];
            }
        }
        double[] whiteTag = raw.doubles(WHITE_LEVEL, new double[] {(1 << bitsPerSample) - 1});
        try {
            return new BayerNormalization(black, whiteTag[0]);
        } catch (IllegalArgumentException e) {
            throw error("has unusable levels: " + e.getMessage());
        }
    }

    // ----------------------------------------------------------------- IFD parsing

    private Ifd findRawIfd(List<Ifd> ifds) {
        boolean linear = false;
        for (Ifd ifd : ifds) {
            int photometric = ifd.intValue(PHOTOMETRIC, -1);
            if (ifd.intValue(NEW_SUBFILE_TYPE, 0) != 0) {
                continue;
            }
            if (photometric == PHOTOMETRIC_CFA) {
                return ifd;
            }
            linear |= photometric == PHOTOMETRIC_LINEAR_RAW;
        }
        if (linear) {
            throw error("is a linear (already demosaiced) DNG such as Apple ProRAW; only Bayer mosaics can be denoised");
        }
        throw error("has no full-resolution CFA image (monochrome or non-Bayer DNGs are not supported)");
    }

    private void readIfdChain(long offset, List<Ifd> into, int depth) {
        int guard = 0;
        while (offset != 0) {
            if (depth > 4 || guard++ > 64 || offset < 8 || offset + 2 > bytes.length) {
                throw error("has a damaged IFD structure");
            }
            Ifd ifd = readIfd((int) offset);
            into.add(ifd);
            long[] subIfds = ifd.longs(SUB_IFDS, new long[0]);
            for (long sub : subIfds) {
                readIfdChain(sub, into, depth + 1);
            }
            int entries = u16((int) offset);
            long nextAt = offset + 2 + 12L * entries;
            if (nextAt + 4 > bytes.length) {
                throw error("has a damaged IFD structure");
            }
            offset = u32((int) nextAt);
        }
    }

    private Ifd readIfd(int offset) {
        int entries = u16(offset);
        if (offset + 2 + 12L * entries > bytes.length) {
            throw error("has a damaged IFD structure");
        }
        Ifd ifd = new Ifd(offset);
        for (int e = 0; e < entries; e++) {
            int at = offset + 2 + 12 * e;
            int tag = u16(at);
            int type = u16(at + 2);
            long count = u32(at + 4);
            int size = typeSize(type);
            if (size == 0) {
                continue; // unknown type: TIFF readers skip such entries
            }
            long total = count * size;
            long valueAt = total <= 4 ? at + 8 : u32(at + 8);
            if (count > Integer.MAX_VALUE / 8 || valueAt + total > bytes.length) {
                throw error("has a damaged tag " + tag);
            }
            ifd.entries.put(tag, new Entry(type, (int) count, (int) valueAt));
        }
        return ifd;
    }

    private static int typeSize(int type) {
        switch (type) {
            case 1: case 2: case 6: case 7: return 1;
            case 3: case 8: return 2;
            case 4: case 9: case 11: case 13: return 4;
            case 5: case 10: case 12: return 8;
            default: return 0;
        }
    }

    private final class Ifd {
        final int offset;
        final Map<Integer, Entry> entries = new HashMap<>();

        Ifd(int offset) {
            this.offset = offset;
        }

        boolean has(int tag) {
            return entries.containsKey(tag);
        }

        double[] doubles(int tag, double[] fallback) {
            Entry e = entries.get(tag);
            if (e == null) {
                return fallback;
            }
            double[] out = new double[e.count];
            for (int i = 0; i < e.count; i++) {
                out[i] = e.doubleAt(i);
            }
            return out;
        }

        long[] longs(int tag, long[] fallback) {
            Entry e = entries.get(tag);
            if (e == null) {
                return fallback;
            }
            long[] out = new long[e.count];
            for (int i = 0; i < e.count; i++) {
                out[i] = e.longAt(i);
            }
            return out;
        }

        long longValue(int tag, long fallback) {
            long[] v = longs(tag, null);
            return v == null || v.length == 0 ? fallback : v[0];
        }

        int intValue(int tag, int fallback) {
            return (int) longValue(tag, fallback);
        }
    }

    private final class Entry {
        final int type;
        final int count;
        final int at;

        Entry(int type, int count, int at) {
            this.type = type;
            this.count = count;
            this.at = at;
        }

        long longAt(int i) {
            switch (type) {
                case 1: case 2: case 7: return bytes[at + i] & 0xFF;
                case 6: return bytes[at + i];
                case 3: return u16(at + 2 * i);
                case 8: return (short) u16(at + 2 * i);
                case 4: case 13: return u32(at + 4 * i);
                case 9: return (int) u32(at + 4 * i);
                default: return (long) doubleAt(i);
            }
        }

        double doubleAt(int i) {
            ByteBuffer b = view;
            switch (type) {
                case 5: {
                    long den = u32(at + 8 * i + 4);
                    return den == 0 ? 0.0 : (double) u32(at + 8 * i) / den;
                }
                case 10: {
                    int den = b.getInt(at + 8 * i + 4);
                    return den == 0 ? 0.0 : (double) b.getInt(at + 8 * i) / den;
                }
                case 11: return b.getFloat(at + 4 * i);
                case 12: return b.getDouble(at + 8 * i);
                default: return longAt(i);
            }
        }
    }

    private int u16(int at) {
        return view.getShort(at) & 0xFFFF;
    }

    private long u32(int at) {
        return view.getInt(at) & 0xFFFFFFFFL;
    }

    private static int[] toInts(long[] values) {
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (int) values[i];
        }
        return out;
    }

    private DngFormatException error(String what) {
        return new DngFormatException(name + " " + what);
    }
}
