package org.rawdenoise.core;

/** A mosaic from which no noise profile can be estimated (too small, flat, clipped or not finite). */
public class NoiseEstimateException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public NoiseEstimateException(String message) {
        super(message);
    }
}
