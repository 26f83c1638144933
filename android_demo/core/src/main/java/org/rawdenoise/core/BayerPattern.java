package org.rawdenoise.core;

/**
 * The four 2×2 Bayer phases, named by the colours of the top-left tile read row by row.
 *
 * <p>Mirrors {@code denoise/cfa.py}: the SDK works in RGGB; every other phase is brought there by
 * padding one row and/or column in front, so a pattern is fully described by where its red pixel
 * sits in the 2×2 tile.
 */
public enum BayerPattern {
    RGGB(0, 0),
    GRBG(0, 1),
    GBRG(1, 0),
    BGGR(1, 1);

    /** Packed plane indices, in canonical order. */
    public static final int R = 0;
    public static final int G1 = 1;
    public static final int G2 = 2;
    public static final int B = 3;

    /** Row of the red pixel inside the 2×2 tile (also the rows padded in front). */
    public final int redRow;
    /** Column of the red pixel inside the 2×2 tile (also the columns padded in front). */
    public final int redCol;

    BayerPattern(int redRow, int redCol) {
        this.redRow = redRow;
        this.redCol = redCol;
    }

    /**
     * Packed plane (R, G1, G2 or B) of the pixel at tile position ({@code row}, {@code col}) of a
     * mosaic in this phase; G1 is the green on red's row, G2 the green on blue's row.
     */
    public int planeOf(int row, int col) {
        int canonicalRow = ((row & 1) + redRow) & 1;
        int canonicalCol = ((col & 1) + redCol) & 1;
        return canonicalRow * 2 + canonicalCol;
    }

    /** Colour code (0 red, 1 green, 2 blue) at tile position ({@code row}, {@code col}). */
    public int colorAt(int row, int col) {
        int plane = planeOf(row, col);
        return plane == R ? 0 : plane == B ? 2 : 1;
    }

    /**
     * From Camera2 {@code SENSOR_INFO_COLOR_FILTER_ARRANGEMENT} (RGGB 0, GRBG 1, GBRG 2, BGGR 3);
     * RGB, monochrome and NIR sensors have no Bayer mosaic to denoise.
     */
    public static BayerPattern fromCamera2Arrangement(int arrangement) {
        switch (arrangement) {
            case 0: return RGGB;
            case 1: return GRBG;
            case 2: return GBRG;
            case 3: return BGGR;
            default:
                throw new CfaException("camera colour filter arrangement " + arrangement
                        + " is not a Bayer RGGB/GRBG/GBRG/BGGR sensor; pick a camera with a Bayer sensor");
        }
    }

    /**
     * From a 2×2 CFA pattern of colour codes read row by row (DNG/TIFF-EP {@code CFAPattern}:
     * 0 red, 1 green, 2 blue).
     */
    public static BayerPattern fromColorCodes(int[] codes) {
        if (codes.length != 4) {
            throw new CfaException("CFA pattern has " + codes.length
                    + " entries, not a 2x2 Bayer pattern (X-Trans and other layouts are not supported)");
        }
        for (BayerPattern p : values()) {
            if (p.colorAt(0, 0) == codes[0] && p.colorAt(0, 1) == codes[1]
                    && p.colorAt(1, 0) == codes[2] && p.colorAt(1, 1) == codes[3]) {
                return p;
            }
        }
        throw new CfaException("CFA pattern " + java.util.Arrays.toString(codes)
                + " is not a Bayer RGGB/BGGR/GRBG/GBRG layout");
    }
}
