package org.rawdenoise.core;

/** Noise parameters that cannot describe a real sensor (negative, NaN, wrong count). */
public class NoiseProfileException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public NoiseProfileException(String message) {
        super(message);
    }
}
