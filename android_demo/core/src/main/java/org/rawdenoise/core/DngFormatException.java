package org.rawdenoise.core;

/** A file that is not a DNG this core can denoise; the message names the file and what to do. */
public class DngFormatException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public DngFormatException(String message) {
        super(message);
    }
}
