package org.rawdenoise.core;

/**
 * Which specialist runs for a noise level — rule {@code mean_a_boundaries}, version 1, the same as
 * {@code denoise/selector.py}: with K specialists ordered by noise range and K−1 strictly
 * ascending boundaries, the index is the number of boundaries {@code <= level}. A level exactly on
 * a boundary goes to the noisier specialist. Plain double comparisons, so Java and Python decide
 * identically for every level.
 */
public final class SpecialistSelector {

    public static final String RULE = "mean_a_boundaries";
    public static final int RULE_VERSION = 1;

    private SpecialistSelector() {
    }

    /** Index of the specialist for {@code level}. */
    public static int selectIndex(double level, double[] boundaries) {
        checkAscending(boundaries);
        int index = 0;
        for (double boundary : boundaries) {
            if (boundary <= level) {
                index++;
            }
        }
        return index;
    }

    /** Throws unless the boundaries are finite and strictly ascending. */
    public static void checkAscending(double[] boundaries) {
        for (int i = 0; i < boundaries.length; i++) {
            if (!Double.isFinite(boundaries[i])) {
                throw new IllegalArgumentException("selector boundary " + boundaries[i] + " is not finite");
            }
            if (i > 0 && boundaries[i - 1] >= boundaries[i]) {
                throw new IllegalArgumentException("selector boundaries must be strictly ascending, got "
                        + java.util.Arrays.toString(boundaries));
            }
        }
    }
}
