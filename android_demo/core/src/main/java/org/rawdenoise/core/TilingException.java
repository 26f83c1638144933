package org.rawdenoise.core;

/** Tiling parameters or arrays that cannot be tiled (bad sizes, shapes or model output). */
public class TilingException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public TilingException(String message) {
        super(message);
    }
}
