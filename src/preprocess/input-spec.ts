/** How a model wants its input tensor made from a frame (the manifest's `input`). */
export interface InputSpec {
  name: string;
  layout: 'NCHW';
  dtype: 'float32';
  /** null = dynamic (segmenters accept any multiple of `multiple_of`) */
  width: number | null;
  height: number | null;
  multiple_of?: number;
  color: 'RGB';
  /** x = pixel * scale + offset (RGB/127.5 − 1 for both shipped models) */
  scale: number;
  offset: number;
  /** 'stretch' = whole frame resized to the input size, no letterbox */
  resize: 'stretch';
}
