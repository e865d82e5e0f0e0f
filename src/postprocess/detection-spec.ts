/** How a detector's outputs are decoded (the manifest's `detection`): anchors, box coder, score activation. */
export interface SsdAnchorSpec {
  type: 'ssd_anchor_generator';
  feature_maps: number[];
  min_scale: number;
  max_scale: number;
  aspect_ratios: number[];
  /** TF's reduce_boxes_in_lowest_layer: first layer gets (0.1, 1), (s0, 2), (s0, 0.5) */
  reduce_boxes_in_lowest_layer: boolean;
  interpolated_scale_aspect_ratio: number;
}

export interface DetectionSpec {
  outputs: { scores: string; boxes: string };
  num_anchors: number;
  anchors: SsdAnchorSpec;
  box_coder: { type: 'faster_rcnn'; scales: [number, number, number, number] };
  /** scores already passed through a sigmoid inside the graph */
  score_activation: 'none' | 'sigmoid';
  /** index of the background class in the score tensor (skipped) */
  background_class: number | null;
}
